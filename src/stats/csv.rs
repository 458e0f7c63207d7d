//! Reports as CSV (RFC 4180): a header row naming the columns as `docs/statistics.md` does,
//! then one row per queue or agent and interval. Numbers as JSON writes them, null as empty.

use serde_json::Value;

/// One field, quoted when it holds a comma, a quote or a line break.
fn field(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `columns` as the header, then each row's value for each column (missing: empty).
pub fn write(columns: &[String], rows: &[Value]) -> String {
    let mut out = String::new();
    let header: Vec<String> = columns
        .iter()
        .map(|c| field(&Value::String(c.clone())))
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in rows {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| field(row.get(c).unwrap_or(&Value::Null)))
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_with_commas_or_quotes_are_quoted_and_nulls_are_empty() {
        let columns = vec!["queue".to_owned(), "asa_ms".to_owned(), "name".to_owned()];
        let rows = [json!({"queue": "sales", "asa_ms": null, "name": "Sales, \"EU\""})];
        assert_eq!(
            write(&columns, &rows),
            "queue,asa_ms,name\r\nsales,,\"Sales, \"\"EU\"\"\"\r\n"
        );
    }
}
