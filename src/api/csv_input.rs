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

pub fn parse(
    text: &str,
    x_col: Option<&str>,
    y_col: Option<&str>,
) -> Result<PriceColumns, CsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(CsvError::Empty)?;
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_string())
        .collect();
    let rows: Vec<(usize, Vec<&str>)> = lines
        .map(|(i, l)| (i + 1, l.split(',').map(|c| c.trim()).collect()))
        .collect();
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
        out.ts
            .push(r.first().map(|s| s.to_string()).unwrap_or_default());
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
}
