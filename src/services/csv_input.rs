//! Two price series from a CSV with a header (the `pairdesk analyze` input):
//! a timestamp column first, then price columns. By default the first two
//! numeric columns after the timestamp are x and y; `--x`/`--y` pick by name.

use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum CsvError {
    #[error("the file is empty")]
    Empty,
    #[error("no column named {0:?} (columns: {1})")]
    NoColumn(String, String),
    #[error("need two numeric price columns after the timestamp, found {0}")]
    TooFewColumns(usize),
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// Parsed input: column names used and the aligned series.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceColumns {
    pub x_name: String,
    pub y_name: String,
    pub ts: Vec<String>,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

/// Read the CSV text: RFC 4180 quoting (`"time","BTC, perp"`, doubled
/// quotes inside a quoted field), surrounding spaces trimmed, blank lines
/// skipped. Line numbers in errors are the file's own (1 is the header).
pub fn parse(
    text: &str,
    x_col: Option<&str>,
    y_col: Option<&str>,
) -> Result<PriceColumns, CsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    // The file's own line of a record, from its byte offset (the csv
    // crate's line count does not count skipped blank lines).
    let line_of = |p: Option<&csv::Position>| {
        p.map(|p| {
            let b = text.as_bytes();
            let mut at = (p.byte() as usize).min(b.len());
            // A record's position is where reading resumed, before any
            // blank lines the reader skipped.
            while at < b.len() && (b[at] == b'\n' || b[at] == b'\r') {
                at += 1;
            }
            b[..at].iter().filter(|&&c| c == b'\n').count() + 1
        })
        .unwrap_or(0)
    };
    let bad_line = |e: csv::Error| CsvError::Line {
        line: line_of(e.position()),
        reason: e.to_string(),
    };
    let cols: Vec<String> = rdr
        .headers()
        .map_err(bad_line)?
        .iter()
        .map(str::to_string)
        .collect();
    if cols.iter().all(|c| c.is_empty()) {
        return Err(CsvError::Empty);
    }
    let mut rows: Vec<(usize, csv::StringRecord)> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(bad_line)?;
        let line = line_of(rec.position());
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        rows.push((line, rec));
    }
    let find = |name: &str| {
        cols.iter()
            .position(|c| c == name)
            .ok_or_else(|| CsvError::NoColumn(name.to_string(), cols.join(", ")))
    };
    // Numeric columns: every value after the header parses as a number.
    let numeric: Vec<usize> = (1..cols.len())
        .filter(|&j| {
            rows.iter()
                .take(50)
                .all(|(_, r)| r.get(j).is_some_and(|v| v.parse::<f64>().is_ok()))
        })
        .collect();
    let xi = match x_col {
        Some(n) => find(n)?,
        None => *numeric
            .first()
            .ok_or(CsvError::TooFewColumns(numeric.len()))?,
    };
    let yi = match y_col {
        Some(n) => find(n)?,
        None => *numeric
            .iter()
            .find(|&&j| j != xi)
            .ok_or(CsvError::TooFewColumns(numeric.len()))?,
    };
    let mut out = PriceColumns {
        x_name: cols[xi].clone(),
        y_name: cols[yi].clone(),
        ts: Vec::with_capacity(rows.len()),
        x: Vec::with_capacity(rows.len()),
        y: Vec::with_capacity(rows.len()),
    };
    for (line, r) in rows {
        let get = |j: usize, name: &str| -> Result<f64, CsvError> {
            let v = r.get(j).ok_or_else(|| CsvError::Line {
                line,
                reason: format!("missing column {name}"),
            })?;
            v.parse::<f64>().map_err(|_| CsvError::Line {
                line,
                reason: format!("{name} = {v:?} is not a number"),
            })
        };
        out.x.push(get(xi, &cols[xi])?);
        out.y.push(get(yi, &cols[yi])?);
        out.ts.push(r.get(0).unwrap_or_default().to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_two_numeric_columns_by_default() {
        let p = parse("ts,btc,eth\n1,90000,3000\n2,90010,3001\n", None, None).unwrap();
        assert_eq!((p.x_name.as_str(), p.y_name.as_str()), ("btc", "eth"));
        assert_eq!(p.y, vec![3000.0, 3001.0]);
    }

    #[test]
    fn columns_by_name_and_errors_with_line_numbers() {
        let t = "ts,a,b,c\n1,1,2,3\n2,1,x,3\n";
        let p = parse(t, Some("c"), Some("a")).unwrap();
        assert_eq!((p.x, p.y), (vec![3.0, 3.0], vec![1.0, 1.0]));
        assert_eq!(
            parse(t, Some("c"), Some("b")),
            Err(CsvError::Line {
                line: 3,
                reason: "b = \"x\" is not a number".into()
            })
        );
        assert!(matches!(
            parse(t, Some("zz"), None),
            Err(CsvError::NoColumn(..))
        ));
        assert_eq!(parse("", None, None), Err(CsvError::Empty));
        assert!(matches!(
            parse("ts,a\n1,2\n", None, None),
            Err(CsvError::TooFewColumns(1))
        ));
    }

    #[test]
    fn quoted_fields_hold_commas_and_quotes() {
        let t = "\"time\",\"BTC, perp\",\"ETH \"\"spot\"\"\"\n\"2025-12-15 08:00:00\",\"90000.5\",3000\n\n2025-12-15 08:00:01, 90001 ,\"3001.25\"\n";
        let p = parse(t, None, None).unwrap();
        assert_eq!(p.x_name, "BTC, perp");
        assert_eq!(p.y_name, "ETH \"spot\"");
        assert_eq!(p.x, vec![90000.5, 90001.0]);
        assert_eq!(p.y, vec![3000.0, 3001.25]);
        assert_eq!(p.ts, vec!["2025-12-15 08:00:00", "2025-12-15 08:00:01"]);
        let p = parse(t, Some("ETH \"spot\""), Some("BTC, perp")).unwrap();
        assert_eq!(p.x, vec![3000.0, 3001.25]);
        // The line number counts the blank line: the file's own numbering.
        let e = parse(
            "ts,\"a, b\",c\n1,2,3\n\n2,\"x\",3\n",
            Some("a, b"),
            Some("c"),
        )
        .unwrap_err();
        assert_eq!(
            e,
            CsvError::Line {
                line: 4,
                reason: "a, b = \"x\" is not a number".into()
            }
        );
    }
}
