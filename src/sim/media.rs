//! What the simulated switch plays and collects, without any channel state: which sound
//! files exist, how long a playback lasts, which prompts `say` plays, the arguments of
//! `play_and_get_digits` and the small regular expressions it validates digits with.

use std::time::Duration;

/// Which sound files exist on the simulated switch. Streams (`silence_stream://`,
/// `tone_stream://`, `local_stream://`) always exist; a `file_string://a!b` exists when
/// every part does.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SoundFiles {
    /// Every file exists except paths containing `no-such` (so a test can provoke
    /// `FILE NOT FOUND` without configuring anything). The default.
    #[default]
    AllButNoSuch,
    /// Exactly these paths exist, compared as written in the command (relative names such
    /// as `digits/40.wav` are what the real switch resolves under its sound prefix). An
    /// empty list is the capture rig: no sound packages installed.
    Only(Vec<String>),
}

impl SoundFiles {
    fn file_exists(&self, path: &str) -> bool {
        match self {
            SoundFiles::AllButNoSuch => !path.contains("no-such"),
            SoundFiles::Only(list) => list.iter().any(|p| p == path),
        }
    }

    /// Whether `playback <path>` finds something to play.
    pub fn exists(&self, path: &str) -> bool {
        let path = strip_var_block(path);
        if path.is_empty() {
            return false;
        }
        if let Some(list) = path.strip_prefix("file_string://") {
            return list.split('!').all(|p| self.exists(p));
        }
        if is_stream(path) {
            return true;
        }
        self.file_exists(path)
    }

    /// Adds `path` to an explicit list (no effect on `AllButNoSuch`, where it exists anyway
    /// unless its name contains `no-such`).
    pub fn install(&mut self, path: &str) {
        if let SoundFiles::Only(list) = self {
            if !list.iter().any(|p| p == path) {
                list.push(path.to_string());
            }
        }
    }
}

pub(super) fn strip_var_block(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix('{') {
        if let Some(end) = rest.find('}') {
            return &rest[end + 1..];
        }
    }
    path
}

fn is_stream(path: &str) -> bool {
    ["silence_stream://", "tone_stream://", "local_stream://"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// `Playback-File-Type`, which the real switch adds only for stream modules.
pub fn file_type(path: &str) -> Option<&'static str> {
    let path = strip_var_block(path);
    if path.starts_with("tone_stream://") {
        Some("tone_stream")
    } else if path.starts_with("local_stream://") {
        Some("local_stream")
    } else {
        None
    }
}

/// How long a playback of `path` lasts; `None` = until broken or hung up
/// (`silence_stream://-1`, `local_stream://…`).
pub fn duration(path: &str) -> Option<Duration> {
    let path = strip_var_block(path);
    if path.starts_with("local_stream://") {
        return None;
    }
    if let Some(ms) = path.strip_prefix("silence_stream://") {
        let ms = ms.split(',').next().unwrap_or("").trim();
        return match ms.parse::<i64>() {
            Ok(n) if n >= 0 => Some(Duration::from_millis(n as u64)),
            Ok(_) => None,
            Err(_) => Some(Duration::from_millis(200)),
        };
    }
    if let Some(spec) = path.strip_prefix("tone_stream://") {
        // `%(on,off,freq…)` segments joined by `;`, each played once: on + off apiece.
        let ms: u64 = spec
            .split(';')
            .filter_map(|seg| seg.split_once('(').and_then(|(_, r)| r.split(')').next()))
            .map(|inner| {
                let mut nums = inner
                    .split(',')
                    .filter_map(|n| n.trim().parse::<u64>().ok());
                let on = nums.next().unwrap_or(200);
                let off = nums.next().unwrap_or(0);
                on + off
            })
            .sum();
        return Some(Duration::from_millis(ms.max(20)));
    }
    if let Some(list) = path.strip_prefix("file_string://") {
        let n = list.split('!').count() as u64;
        return Some(Duration::from_millis(400 * n + 250));
    }
    Some(Duration::from_millis(400))
}

/// The prompts `say <lang> <type> <method> [gender] <text>` plays, as the `file_string://`
/// the real switch builds; `None` when the simulator does not model the type (only
/// number-like types in English are).
pub fn say_files(arg: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = arg.split_whitespace().collect();
    if words.len() < 4 {
        return None;
    }
    let (lang, kind, method) = (words[0], words[1], words[2]);
    let text = words[words.len() - 1];
    if !lang.eq_ignore_ascii_case("en") {
        return None;
    }
    if !["number", "items", "persons", "messages"]
        .iter()
        .any(|k| kind.eq_ignore_ascii_case(k))
    {
        return None;
    }
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return None;
    }
    if method.eq_ignore_ascii_case("iterated") {
        return Some(digits.chars().map(|d| format!("digits/{d}.wav")).collect());
    }
    let n: u64 = digits.parse().ok()?;
    let mut files = Vec::new();
    if n == 0 {
        files.push("digits/0.wav".to_string());
        return Some(files);
    }
    for (scale, word) in [
        (1_000_000u64, Some("million")),
        (1_000, Some("thousand")),
        (1, None),
    ] {
        let group = (n / scale) % 1000;
        if group == 0 || (scale == 1_000_000 && n / scale >= 1000) {
            continue;
        }
        say_group(group, &mut files);
        if let Some(w) = word {
            files.push(format!("digits/{w}.wav"));
        }
    }
    Some(files)
}

fn say_group(n: u64, out: &mut Vec<String>) {
    let (h, t, o) = (n / 100, (n / 10) % 10, n % 10);
    if h > 0 {
        out.push(format!("digits/{h}.wav"));
        out.push("digits/hundred.wav".to_string());
    }
    match t {
        0 => {
            if o > 0 {
                out.push(format!("digits/{o}.wav"));
            }
        }
        1 => out.push(format!("digits/1{o}.wav")),
        _ => {
            out.push(format!("digits/{t}0.wav"));
            if o > 0 {
                out.push(format!("digits/{o}.wav"));
            }
        }
    }
}

/// `play_and_get_digits <min> <max> <tries> <timeout ms> <terminators> <file> <invalid file>
/// [<var> [<regexp> [<digit timeout ms> [<transfer on failure>]]]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagdArgs {
    pub min: usize,
    pub max: usize,
    pub tries: u32,
    pub timeout: Duration,
    /// Keys that end the input (`none` = none).
    pub terminators: String,
    pub file: String,
    pub invalid_file: String,
    pub var: Option<String>,
    pub regex: Option<String>,
    pub digit_timeout: Duration,
}

impl PagdArgs {
    pub fn parse(arg: &str) -> Option<PagdArgs> {
        let w: Vec<&str> = arg.split_whitespace().collect();
        if w.len() < 7 {
            return None;
        }
        let num = |s: &str| s.parse::<u64>().ok();
        let timeout = Duration::from_millis(num(w[3])?);
        let terminators = if w[4].eq_ignore_ascii_case("none") {
            String::new()
        } else {
            w[4].to_string()
        };
        let digit_timeout = w
            .get(9)
            .and_then(|s| num(s))
            .map(Duration::from_millis)
            .unwrap_or(timeout);
        Some(PagdArgs {
            min: num(w[0])? as usize,
            max: (num(w[1])? as usize).max(1),
            tries: (num(w[2])? as u32).max(1),
            timeout,
            terminators,
            file: w[5].to_string(),
            invalid_file: w[6].to_string(),
            var: w.get(7).map(|s| s.to_string()),
            regex: w.get(8).map(|s| s.to_string()).filter(|r| !r.is_empty()),
            digit_timeout,
        })
    }

    /// Whether collected `digits` are accepted: at least one key (an empty input is never
    /// valid), at most `max`, and matching the regexp if there is one.
    pub fn accepts(&self, digits: &str) -> bool {
        let n = digits.chars().count();
        n >= self.min.max(1)
            && n <= self.max
            && self.regex.as_deref().is_none_or(|r| regex_match(r, digits))
    }
}

// ---- a small regular-expression matcher -----------------------------------------------
//
// Enough for digit validation: literals, `.`, `\d`, `\D`, `\w`, `\s`, `[…]` classes with
// ranges and negation, `( … | … )` groups, `|`, `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, `^`,
// `$`. Unsupported syntax never matches.

#[derive(Clone, Debug)]
enum Atom {
    Any,
    Char(char),
    Class(Vec<(char, char)>, bool),
    Group(Vec<Vec<Piece>>),
    Start,
    End,
}

#[derive(Clone, Debug)]
struct Piece {
    atom: Atom,
    min: usize,
    max: usize,
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn alternation(&mut self) -> Option<Vec<Vec<Piece>>> {
        let mut alts = vec![self.sequence()?];
        while self.s.get(self.i) == Some(&'|') {
            self.i += 1;
            alts.push(self.sequence()?);
        }
        Some(alts)
    }

    fn sequence(&mut self) -> Option<Vec<Piece>> {
        let mut seq = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let (min, max) = self.quantifier()?;
            seq.push(Piece { atom, min, max });
        }
        Some(seq)
    }

    fn atom(&mut self) -> Option<Atom> {
        let c = *self.s.get(self.i)?;
        self.i += 1;
        Some(match c {
            '.' => Atom::Any,
            '^' => Atom::Start,
            '$' => Atom::End,
            '(' => {
                if self.s.get(self.i) == Some(&'?') && self.s.get(self.i + 1) == Some(&':') {
                    self.i += 2;
                }
                let alts = self.alternation()?;
                if self.s.get(self.i) != Some(&')') {
                    return None;
                }
                self.i += 1;
                Atom::Group(alts)
            }
            '[' => self.class()?,
            '\\' => self.escape()?,
            '*' | '+' | '?' | '{' | ')' => return None,
            c => Atom::Char(c),
        })
    }

    fn escape(&mut self) -> Option<Atom> {
        let c = *self.s.get(self.i)?;
        self.i += 1;
        let word = vec![('0', '9'), ('a', 'z'), ('A', 'Z'), ('_', '_')];
        let space = vec![(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')];
        Some(match c {
            'd' => Atom::Class(vec![('0', '9')], false),
            'D' => Atom::Class(vec![('0', '9')], true),
            'w' => Atom::Class(word, false),
            'W' => Atom::Class(word, true),
            's' => Atom::Class(space, false),
            'S' => Atom::Class(space, true),
            c => Atom::Char(c),
        })
    }

    fn class(&mut self) -> Option<Atom> {
        let mut negated = false;
        if self.s.get(self.i) == Some(&'^') {
            negated = true;
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' {
                let e = *self.s.get(self.i)?;
                self.i += 1;
                if e == 'd' {
                    ranges.push(('0', '9'));
                    continue;
                }
                e
            } else {
                c
            };
            if self.s.get(self.i) == Some(&'-') && self.s.get(self.i + 1).is_some_and(|&n| n != ']')
            {
                let hi = *self.s.get(self.i + 1)?;
                self.i += 2;
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Some(Atom::Class(ranges, negated))
    }

    fn quantifier(&mut self) -> Option<(usize, usize)> {
        let q = match self.s.get(self.i) {
            Some('*') => (0, usize::MAX),
            Some('+') => (1, usize::MAX),
            Some('?') => (0, 1),
            Some('{') => {
                let close = self.s[self.i..].iter().position(|&c| c == '}')? + self.i;
                let body: String = self.s[self.i + 1..close].iter().collect();
                self.i = close;
                let (lo, hi) = match body.split_once(',') {
                    Some((lo, "")) => (lo.trim().parse().ok()?, usize::MAX),
                    Some((lo, hi)) => (lo.trim().parse().ok()?, hi.trim().parse().ok()?),
                    None => {
                        let n = body.trim().parse().ok()?;
                        (n, n)
                    }
                };
                (lo, hi)
            }
            _ => return Some((1, 1)),
        };
        self.i += 1;
        Some(q)
    }
}

fn atom_matches_char(atom: &Atom, c: char) -> bool {
    match atom {
        Atom::Any => true,
        Atom::Char(x) => *x == c,
        Atom::Class(ranges, neg) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *neg,
        _ => false,
    }
}

/// All end positions reachable by matching `seq` from `pos`.
fn match_seq(seq: &[Piece], s: &[char], pos: usize, out: &mut Vec<usize>) {
    let Some((first, rest)) = seq.split_first() else {
        out.push(pos);
        return;
    };
    // Positions after k repetitions of `first`, k = 0, 1, …
    let mut frontier = vec![pos];
    let mut count = 0;
    loop {
        if count >= first.min {
            for &p in &frontier {
                match_seq(rest, s, p, out);
            }
        }
        if count >= first.max || frontier.is_empty() || count > s.len() + 1 {
            break;
        }
        let mut next = Vec::new();
        for &p in &frontier {
            match &first.atom {
                Atom::Start => {
                    if p == 0 {
                        next.push(p);
                    }
                }
                Atom::End => {
                    if p == s.len() {
                        next.push(p);
                    }
                }
                Atom::Group(alts) => {
                    for alt in alts {
                        match_seq(alt, s, p, &mut next);
                    }
                }
                atom => {
                    if s.get(p).is_some_and(|&c| atom_matches_char(atom, c)) {
                        next.push(p + 1);
                    }
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        // Zero-width repetitions make no progress: stop after the mandatory ones.
        if next == frontier && count >= first.min {
            break;
        }
        frontier = next;
        count += 1;
    }
}

/// PCRE-style search: true if `pattern` matches anywhere in `text` (anchors respected).
pub fn regex_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let mut parser = Parser { s: &p, i: 0 };
    let Some(alts) = parser.alternation() else {
        return false;
    };
    if parser.i != p.len() {
        return false;
    }
    let s: Vec<char> = text.chars().collect();
    let seq = vec![Piece {
        atom: Atom::Group(alts),
        min: 1,
        max: 1,
    }];
    (0..=s.len()).any(|start| {
        let mut ends = Vec::new();
        match_seq(&seq, &s, start, &mut ends);
        !ends.is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn say_number_pronounced_plays_tens_then_units() {
        assert_eq!(
            say_files("en number pronounced 42"),
            Some(vec![
                "digits/40.wav".to_string(),
                "digits/2.wav".to_string()
            ])
        );
        assert_eq!(
            say_files("en number pronounced 115"),
            Some(vec![
                "digits/1.wav".to_string(),
                "digits/hundred.wav".to_string(),
                "digits/15.wav".to_string()
            ])
        );
        assert_eq!(
            say_files("en number iterated 305").map(|v| v.len()),
            Some(3)
        );
        assert_eq!(say_files("en current_date pronounced 1"), None);
    }

    #[test]
    fn missing_files_are_found_by_rule_or_list() {
        let default = SoundFiles::default();
        assert!(default.exists("ivr/welcome.wav"));
        assert!(!default.exists("/tmp/no-such-file.wav"));
        assert!(default.exists("silence_stream://500"));
        let mut bare = SoundFiles::Only(Vec::new());
        assert!(!bare.exists("digits/40.wav"));
        assert!(bare.exists("local_stream://moh"));
        assert!(!bare.exists("file_string://digits/40.wav!digits/2.wav"));
        bare.install("digits/40.wav");
        bare.install("digits/2.wav");
        assert!(bare.exists("file_string://digits/40.wav!digits/2.wav"));
    }

    #[test]
    fn playback_durations_follow_the_stream_spec() {
        assert_eq!(
            duration("silence_stream://500"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(duration("silence_stream://-1"), None);
        assert_eq!(duration("local_stream://moh"), None);
        assert_eq!(
            duration("tone_stream://%(200,0,500)"),
            Some(Duration::from_millis(200))
        );
        // The feature codes' confirmation tone: two segments, 300 + 400 ms.
        assert_eq!(
            duration("tone_stream://%(200,100,880);%(400,0,1320)"),
            Some(Duration::from_millis(700))
        );
    }

    #[test]
    fn pagd_arguments_parse_like_the_capture() {
        let a = PagdArgs::parse(
            "1 8 1 8000 # silence_stream://500 silence_stream://250 pagd_digits \\d+ 3000",
        )
        .expect("parses");
        assert_eq!((a.min, a.max, a.tries), (1, 8, 1));
        assert_eq!(a.timeout, Duration::from_millis(8000));
        assert_eq!(a.digit_timeout, Duration::from_millis(3000));
        assert_eq!(a.var.as_deref(), Some("pagd_digits"));
        assert!(a.accepts("1234"));
        assert!(!a.accepts(""));
        assert!(PagdArgs::parse("1 8 1").is_none());
    }

    #[test]
    fn regexes_validate_digits() {
        assert!(regex_match("\\d+", "1234"));
        assert!(!regex_match("^\\d+$", "12a4"));
        assert!(regex_match("^[1-3]$", "2"));
        assert!(!regex_match("^[1-3]$", "4"));
        assert!(regex_match("^(1|22|333)$", "22"));
        assert!(!regex_match("^(1|22|333)$", "2"));
        assert!(regex_match("^\\d{4}$", "1234"));
        assert!(!regex_match("^\\d{4}$", "123"));
        assert!(regex_match("^\\d{2,3}$", "123"));
        assert!(regex_match("^[0-9*#]*$", "*1#"));
        assert!(!regex_match("(", "1"));
    }
}
