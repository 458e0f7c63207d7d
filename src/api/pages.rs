//! The wallboard (`/wallboard`) and the supervisor's console (`/console`): web pages the
//! controller serves itself, so a supervisor needs nothing but a browser and a token.
//!
//! The pages are static files compiled into the binary (`include_str!`): plain HTML, CSS and
//! JavaScript modules, no framework and no build step. They hold no data, so they are served
//! without a token (like `/healthz`); everything they show comes from the authenticated API,
//! with the token the supervisor pastes into the page's form. Every answer carries a strict
//! Content-Security-Policy (scripts and styles from this origin only, nothing inline, no
//! framing) and `Cache-Control: no-cache` with an `ETag`, so an upgraded controller's pages
//! are picked up at the next load while an unchanged page costs a 304.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::Problem;

/// What the pages may load: only this origin's scripts, styles and API; nothing inline.
pub(super) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its name under `/pages/`, its media type and its text.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const WALLBOARD: Asset = Asset {
    name: "wallboard.html",
    content_type: HTML,
    body: include_str!("pages/wallboard.html"),
};

const CONSOLE: Asset = Asset {
    name: "console.html",
    content_type: HTML,
    body: include_str!("pages/console.html"),
};

/// The scripts and styles the two pages load from `/pages/<name>`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "common.js",
        content_type: JS,
        body: include_str!("pages/common.js"),
    },
    Asset {
        name: "live.js",
        content_type: JS,
        body: include_str!("pages/live.js"),
    },
    Asset {
        name: "wallboard.js",
        content_type: JS,
        body: include_str!("pages/wallboard.js"),
    },
    Asset {
        name: "console.js",
        content_type: JS,
        body: include_str!("pages/console.js"),
    },
    Asset {
        name: "pages.css",
        content_type: CSS,
        body: include_str!("pages/pages.css"),
    },
];

/// A strong validator of the file's bytes.
fn etag(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether the client's `If-None-Match` already names this version.
fn not_modified(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
}

fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let tag = etag(asset.body);
    let mut response = if not_modified(headers, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(value) = HeaderValue::from_str(&tag) {
        out.insert(header::ETAG, value);
    }
    response
}

/// `GET /wallboard`: the page for a TV on the wall.
pub(super) async fn wallboard(headers: HeaderMap) -> Response {
    serve(&WALLBOARD, &headers)
}

/// `GET /console`: the supervisor's page.
pub(super) async fn console(headers: HeaderMap) -> Response {
    serve(&CONSOLE, &headers)
}

/// `GET /pages/{asset}`: a script or style sheet of the pages.
pub(super) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset, &headers),
        None => Problem::not_found(format!("no page asset {name:?}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ` onclick=`, ` onload=`...: an attribute CSP would refuse to run.
    fn has_inline_handler(html: &str) -> bool {
        html.match_indices(" on").any(|(at, _)| {
            let rest = &html[at + 3..];
            let name_len = rest.chars().take_while(char::is_ascii_lowercase).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        })
    }

    #[test]
    fn the_pages_load_nothing_inline_and_only_their_own_assets() {
        for page in [&WALLBOARD, &CONSOLE] {
            assert!(!page.body.contains("<script>"), "{}", page.name);
            assert!(!page.body.contains(" style="), "{}", page.name);
            assert!(
                !has_inline_handler(page.body),
                "{}: an inline handler",
                page.name
            );
            for reference in page.body.split("/pages/").skip(1) {
                let name = reference.split('"').next().unwrap_or_default();
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} loads /pages/{name}, which is not embedded",
                    page.name
                );
            }
        }
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }

    #[test]
    fn modules_import_only_embedded_assets() {
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            for imported in asset.body.split(" from '").skip(1) {
                let name = imported.split('\'').next().unwrap_or_default();
                let name = name.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} imports {name}, which is not embedded",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn a_known_version_is_not_sent_again() {
        let tag = etag("body");
        let mut headers = HeaderMap::new();
        assert!(!not_modified(&headers, &tag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", {tag}")).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(not_modified(&headers, &tag));
        assert_ne!(etag("body"), etag("body2"));
    }
}
