//! Rows written several to an INSERT. Every statement the history writer runs is a round trip
//! (on SQLite to the connection's own thread, on PostgreSQL over the socket), and the history is
//! one ordered stream of them: statements a call, not bytes, set how many calls a second it can
//! keep up with (docs/performance.md). So the rows a batch only appends are held until it ends
//! and written here.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use super::StoreError;

/// One INSERT's query as it is being bound.
pub(super) type Bound<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Lays out one row's parameters (`$1`, `$2`, …) between its parentheses.
pub(super) type RowLayout<'f> = &'f dyn Fn(&[String]) -> String;

/// The most rows one INSERT writes. A batch's rows go in runs of powers of two up to this, so a
/// handful of statement shapes serve every batch and stay prepared.
const MOST_ROWS_A_STATEMENT: usize = 64;

/// `items` in runs of powers of two, largest first, none longer than [`MOST_ROWS_A_STATEMENT`].
pub(super) fn chunks<T>(items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let run = MOST_ROWS_A_STATEMENT.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(run);
        out.push(chunk);
        rest = tail;
    }
    out
}

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` parameters.
pub(super) fn values(rows: usize, columns: usize) -> String {
    rows_of(rows, columns, |params| params.join(", "))
}

/// `rows` rows of `columns` parameters, each row's parameters (`$1`, `$2`, …) laid out by
/// `row` between its parentheses.
pub(super) fn rows_of(rows: usize, columns: usize, row: impl Fn(&[String]) -> String) -> String {
    (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row(&params))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts `items` into `into` (`table (column, …)`, `columns` of them), several rows a
/// statement ([`chunks`]). `row` lays out one row's parameters between its parentheses
/// (`None`: the parameters themselves); `bind` binds one item's values in the columns' order.
pub(super) async fn insert<T>(
    conn: &mut AnyConnection,
    into: &str,
    columns: usize,
    items: &[T],
    row: Option<RowLayout<'_>>,
    bind: impl for<'q> Fn(Bound<'q>, &'q T) -> Bound<'q>,
) -> Result<(), StoreError> {
    for chunk in chunks(items) {
        let rows = match row {
            Some(row) => rows_of(chunk.len(), columns, row),
            None => values(chunk.len(), columns),
        };
        let sql = format!("INSERT INTO {into} VALUES {rows}");
        let mut query = sqlx::query(&sql);
        for item in chunk {
            query = bind(query, item);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_in_runs_of_powers_of_two_up_to_the_most_a_statement() {
        let items: Vec<u32> = (0..75).collect();
        let lengths: Vec<usize> = chunks(&items).iter().map(|c| c.len()).collect();
        assert_eq!(lengths, [64, 8, 2, 1]);
        assert!(chunks(&[] as &[u32]).is_empty());
        assert_eq!(values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(
            rows_of(2, 2, |p| format!("{}, f({})", p[0], p[1])),
            "($1, f($2)), ($3, f($4))"
        );
    }
}
