//! Long (session-by-session) data to one row per client.
//!
//! NHS Talking Therapies define a client's *first* and *last* scores as the
//! first and the last available session-by-session scores of the referral
//! (NHS Digital, "Psychological Therapies: reports on the use of IAPT
//! services", technical guidance; science.md §3). Given the roles client,
//! time (session number or date) and score, each client's rows are ordered by
//! time and become one row with:
//!
//! * `pre`: the first available (non-missing) score,
//! * `post`: the last available score, missing when the client has fewer than
//!   two scored sessions (no change can be measured from one score),
//! * `sessions`: the number of sessions attended (rows of the client),
//! * `scored_sessions`: the number of sessions with a score,
//! * every other column whose value is the same in all the client's rows
//!   (therapist, site, technique ...). A grouping role (therapist, site,
//!   technique) that changes within a client is an input error; the alliance
//!   role, when it varies, becomes the client's mean over sessions; any other
//!   varying column is left out and listed in the returned notes.
//!
//! Extra score columns (e.g. GAD-7 beside a PHQ-9 score, for the NHS
//! metrics) give `<column>_first` and `<column>_last` in the same way.
//!
//! Two rows of the same client at the same time are an input error.

use super::roles::{Role, RoleSource, Roles};
use super::table::{format_num, parse_number, Column, ColumnData, Table};
use crate::error::{Error, Problem, Problems, Result};
use std::collections::HashMap;

/// The result of the conversion.
#[derive(Debug)]
pub struct Wide {
    pub table: Table,
    /// Roles rewritten for the wide table (pre/post set, time/score removed).
    pub roles: Roles,
    /// Notes for the user (columns left out, clients without a score ...).
    pub notes: Vec<String>,
}

/// One scored session of a client: its position among the client's sessions
/// (1 = first, by time), the score, and the client's technique if that role
/// is given.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionScore {
    pub session: usize,
    pub score: f64,
    pub technique: Option<String>,
}

/// Every scored session, numbered within its client by time order. Rows
/// without a client, a readable time or a score are skipped ([`to_wide`]
/// has already reported them as errors when they matter).
pub fn session_scores(table: &Table, roles: &Roles) -> Vec<SessionScore> {
    let (Some(c), Some(t), Some(s)) = (
        roles.get(Role::Client),
        roles.get(Role::Time),
        roles.get(Role::Score),
    ) else {
        return Vec::new();
    };
    let (Some(client), Some(time), Some(score)) =
        (table.column(c), table.column(t), table.column(s))
    else {
        return Vec::new();
    };
    let Some(scores) = score.as_num() else {
        return Vec::new();
    };
    let technique = roles.get(Role::Technique).and_then(|n| table.column(n));
    let mut by_client: std::collections::BTreeMap<String, Vec<(f64, usize)>> =
        std::collections::BTreeMap::new();
    for row in 0..table.nrows() {
        let (Some(id), Some(tk)) = (
            client.key(row),
            time.text(row)
                .and_then(|x| time_key(&x, table.source.decimal_comma)),
        ) else {
            continue;
        };
        by_client.entry(id.to_string()).or_default().push((tk, row));
    }
    let mut out = Vec::new();
    for rows in by_client.values_mut() {
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (i, &(_, row)) in rows.iter().enumerate() {
            let v = scores[row];
            if v.is_finite() {
                out.push(SessionScore {
                    session: i + 1,
                    score: v,
                    technique: technique.and_then(|col| col.text(row)),
                });
            }
        }
    }
    out
}

/// Sort key of a time value: a number (session number) or a date.
fn time_key(text: &str, decimal_comma: bool) -> Option<f64> {
    if let Some(x) = parse_number(text, decimal_comma) {
        return Some(x);
    }
    parse_date(text).map(|d| d as f64)
}

/// Days since 1970-01-01 of `YYYY-MM-DD` (optionally followed by a time) or
/// `DD/MM/YYYY` (UK order). Algorithm: days-from-civil (H. Hinnant, 2013).
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = s.split([' ', 'T']).next()?;
    let (y, m, d): (i64, i64, i64) = if date.len() == 10 && date.as_bytes()[4] == b'-' {
        let mut it = date.split('-');
        let y = it.next()?.parse().ok()?;
        let m = it.next()?.parse().ok()?;
        let d = it.next()?.parse().ok()?;
        (y, m, d)
    } else if date.len() == 10 && date.as_bytes()[2] == b'/' {
        let mut it = date.split('/');
        let d = it.next()?.parse().ok()?;
        let m = it.next()?.parse().ok()?;
        let y = it.next()?.parse().ok()?;
        (y, m, d)
    } else {
        return None;
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146097 + doe - 719468)
}

/// Converts long data to one row per client. Requires the roles client,
/// time and score.
pub fn to_wide(table: &Table, roles: &Roles, extra_scores: &[&str]) -> Result<Wide> {
    let file = table.source.path.as_str();
    let (Some(client_col), Some(time_col), Some(score_col)) = (
        roles.get(Role::Client),
        roles.get(Role::Time),
        roles.get(Role::Score),
    ) else {
        return Err(Error::input(
            "long data need the roles --client, --time and --score",
        ));
    };
    let client = table.column(client_col).expect("resolved role");
    let time = table.column(time_col).expect("resolved role");
    let score = table.column(score_col).expect("resolved role");
    let scores = score.as_num().ok_or_else(|| {
        Error::input(format!(
            "{file}: the --score column '{score_col}' must hold numbers"
        ))
    })?;

    let mut problems = Problems::new();
    // Group rows by client in order of first appearance.
    let mut order: Vec<String> = Vec::new();
    let mut rows_of: HashMap<String, Vec<(f64, usize)>> = HashMap::new();
    for row in 0..table.nrows() {
        let Some(id) = client.key(row) else {
            problems.push(
                Problem::new(
                    file,
                    "the client ID is missing; every session row needs its client",
                )
                .line(table.line(row))
                .column(client_col),
            );
            continue;
        };
        let t = match time.text(row) {
            None => {
                problems.push(
                    Problem::new(
                        file,
                        "the time is missing; every session row needs its session number or date",
                    )
                    .line(table.line(row))
                    .column(time_col),
                );
                continue;
            }
            Some(text) => match time_key(&text, table.source.decimal_comma) {
                Some(k) => k,
                None => {
                    problems.push(
                        Problem::new(
                            file,
                            "expected a session number or a date (YYYY-MM-DD or DD/MM/YYYY)",
                        )
                        .line(table.line(row))
                        .column(time_col)
                        .value(&text),
                    );
                    continue;
                }
            },
        };
        let entry = rows_of.entry(id.clone()).or_insert_with(|| {
            order.push(id);
            Vec::new()
        });
        entry.push((t, row));
        if problems.is_full() {
            break;
        }
    }
    problems.into_result(format!("{file}: the long data cannot be converted"))?;

    let mut problems = Problems::new();
    for rows in rows_of.values_mut() {
        // Stable sort keeps file order for equal times, so the duplicate
        // check below names the later line.
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in rows.windows(2) {
            if w[0].0 == w[1].0 {
                problems.push(
                    Problem::new(
                        file,
                        format!(
                            "the client has two rows for the same time (the other is line {}); \
                             each session must appear once",
                            table.line(w[0].1)
                        ),
                    )
                    .line(table.line(w[1].1))
                    .column(time_col),
                );
            }
        }
    }

    let n = order.len();
    let mut sessions = vec![0.0; n];
    let mut first_row = vec![0usize; n];
    for (i, id) in order.iter().enumerate() {
        let rows = &rows_of[id];
        first_row[i] = rows.iter().map(|r| r.1).min().unwrap_or(0);
        sessions[i] = rows.len() as f64;
    }
    let (pre, post, scored) = first_last(&order, &rows_of, scores);
    let mut extra_columns = Vec::new();
    for name in extra_scores {
        let v = table.column(name).and_then(|c| c.as_num()).ok_or_else(|| {
            Error::input(format!(
                "{file}: the score column '{name}' must hold numbers"
            ))
        })?;
        let (f, l, _) = first_last(&order, &rows_of, v);
        extra_columns.push(Column::num(format!("{name}_first"), f));
        extra_columns.push(Column::num(format!("{name}_last"), l));
    }

    // Carry the other columns.
    let mut notes = Vec::new();
    let mut columns = vec![Column::str(
        client_col,
        order.iter().map(|s| Some(s.clone())).collect(),
    )];
    let grouping: Vec<&str> = [Role::Therapist, Role::Site, Role::Technique]
        .iter()
        .filter_map(|r| roles.get(*r))
        .collect();
    let alliance = roles.get(Role::Alliance);
    for col in &table.columns {
        let name = col.name.as_str();
        if name == client_col
            || name == time_col
            || name == score_col
            || extra_scores.contains(&name)
        {
            continue;
        }
        let mut values: Vec<Option<String>> = Vec::with_capacity(n);
        let mut varies_for: Option<usize> = None;
        for (i, id) in order.iter().enumerate() {
            let rows = &rows_of[id];
            let mut v: Option<String> = None;
            for &(_, r) in rows {
                let t = col.text(r);
                match (&v, t) {
                    (_, None) => {}
                    (None, Some(t)) => v = Some(t),
                    (Some(a), Some(t)) if *a != t => {
                        varies_for.get_or_insert(i);
                    }
                    _ => {}
                }
            }
            values.push(v);
        }
        match varies_for {
            None => {
                let c = Column::str(name, values);
                columns.push(retype(c));
            }
            Some(i) if grouping.contains(&name) => {
                let rows = &rows_of[&order[i]];
                problems.push(
                    Problem::new(
                        file,
                        "this grouping column changes within one client (a client must keep \
                         one therapist, site and technique; split the referral or fix the data)",
                    )
                    .line(table.line(rows[rows.len() - 1].1))
                    .column(name),
                );
            }
            Some(_) if Some(name) == alliance => {
                let v = col.as_num().ok_or_else(|| {
                    Error::input(format!(
                        "{file}: the --alliance column '{name}' must hold numbers"
                    ))
                })?;
                let means: Vec<f64> = order
                    .iter()
                    .map(|id| {
                        let xs: Vec<f64> = rows_of[id]
                            .iter()
                            .map(|&(_, r)| v[r])
                            .filter(|x| !x.is_nan())
                            .collect();
                        if xs.is_empty() {
                            f64::NAN
                        } else {
                            xs.iter().sum::<f64>() / xs.len() as f64
                        }
                    })
                    .collect();
                columns.push(Column::num(name, means));
                notes.push(format!(
                    "alliance '{name}' varies across sessions: each client's mean is used"
                ));
            }
            Some(_) => notes.push(format!(
                "column '{name}' varies within clients and is left out of the per-client table"
            )),
        }
    }
    problems.into_result(format!("{file}: the long data cannot be converted"))?;

    for name in ["pre", "post", "sessions", "scored_sessions"] {
        if columns.iter().any(|c| c.name == name) {
            return Err(Error::input(format!(
                "{file}: long data cannot hold a column named '{name}' besides the score: \
                 it is the name of a computed column; rename it"
            )));
        }
    }
    let no_change = scored.iter().filter(|&&s| s < 2.0).count();
    if no_change > 0 {
        notes.push(format!(
            "{no_change} client(s) have fewer than two scored sessions: their last score (post) is missing"
        ));
    }
    columns.push(Column::num("pre", pre));
    columns.push(Column::num("post", post));
    columns.push(Column::num("sessions", sessions));
    columns.push(Column::num("scored_sessions", scored));
    columns.extend(extra_columns);

    let mut new_roles = roles.clone();
    new_roles.remove(Role::Time);
    new_roles.remove(Role::Score);
    new_roles.set(Role::Pre, "pre", RoleSource::Detected);
    new_roles.set(Role::Post, "post", RoleSource::Detected);
    let lines: Vec<u64> = first_row.iter().map(|&r| table.line(r)).collect();
    Ok(Wide {
        table: Table {
            source: table.source.clone(),
            columns,
            lines,
        },
        roles: new_roles,
        notes,
    })
}

/// Per client: the first available score, the last available score (missing
/// with fewer than two scored sessions) and the number of scored sessions.
/// `rows_of` lists each client's rows sorted by time.
fn first_last(
    order: &[String],
    rows_of: &HashMap<String, Vec<(f64, usize)>>,
    scores: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = order.len();
    let (mut first, mut last, mut scored) = (vec![f64::NAN; n], vec![f64::NAN; n], vec![0.0; n]);
    for (i, id) in order.iter().enumerate() {
        let mut seen = 0usize;
        for &(_, r) in &rows_of[id] {
            let x = scores[r];
            if x.is_nan() {
                continue;
            }
            if seen == 0 {
                first[i] = x;
            }
            last[i] = x;
            seen += 1;
        }
        if seen < 2 {
            last[i] = f64::NAN;
        }
        scored[i] = seen as f64;
    }
    (first, last, scored)
}

/// A text column whose cells all parse as numbers becomes numeric again.
fn retype(c: Column) -> Column {
    if let ColumnData::Str(v) = &c.data {
        let nums: Option<Vec<f64>> = v
            .iter()
            .map(|x| match x {
                None => Some(f64::NAN),
                Some(s) => parse_number(s, false),
            })
            .collect();
        if let Some(nums) = nums {
            // Keep codes like "007" as text: only retype when printing the
            // number gives back the same text.
            let same = v.iter().zip(&nums).all(|(s, x)| match s {
                None => true,
                Some(s) => format_num(*x) == *s,
            });
            if same {
                return Column::num(c.name, nums);
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::load::parse_delimited;
    use crate::data::roles::{resolve, RoleNames};

    fn wide(text: &str) -> Result<Wide> {
        let t = parse_delimited("l.csv", text.as_bytes(), None).unwrap();
        let flags = RoleNames {
            client: Some("client".into()),
            time: Some("session".into()),
            score: Some("phq9".into()),
            ..Default::default()
        };
        let roles = resolve(&t, &flags, None).unwrap();
        to_wide(&t, &roles, &[])
    }

    #[test]
    fn first_and_last_available_scores() {
        let w = wide(
            "client,therapist,session,phq9,alliance\n\
             a,T1,2,15,3\n\
             a,T1,1,NA,4\n\
             b,T2,1,20,4\n\
             a,T1,3,8,5\n\
             b,T2,2,NA,4\n\
             c,T2,1,12,4\n",
        )
        .unwrap();
        let t = &w.table;
        assert_eq!(t.nrows(), 3);
        let pre = t.column("pre").unwrap().as_num().unwrap();
        let post = t.column("post").unwrap().as_num().unwrap();
        let sessions = t.column("sessions").unwrap().as_num().unwrap();
        assert_eq!(
            pre[0], 15.0,
            "first AVAILABLE score of a (session 1 has none)"
        );
        assert_eq!(post[0], 8.0);
        assert_eq!(sessions[0], 3.0);
        assert_eq!(pre[1], 20.0);
        assert!(post[1].is_nan(), "one scored session: no post");
        assert_eq!(sessions[1], 2.0);
        assert_eq!(
            t.column("therapist").unwrap().text(1).as_deref(),
            Some("T2")
        );
        let alliance = t.column("alliance").unwrap().as_num().unwrap();
        assert_eq!(alliance[0], 4.0, "mean of 3, 4, 5");
        assert_eq!(w.roles.get(Role::Pre), Some("pre"));
        assert_eq!(w.roles.get(Role::Time), None);
        assert!(w.notes.iter().any(|n| n.contains("fewer than two")));
        assert_eq!(t.lines, vec![2, 4, 7]);
    }

    #[test]
    fn extra_scores_get_first_and_last() {
        let t = parse_delimited(
            "l.csv",
            b"client,session,phq9,gad7\na,1,15,12\na,2,9,NA\na,3,NA,5\nb,1,11,9\n",
            None,
        )
        .unwrap();
        let flags = RoleNames {
            client: Some("client".into()),
            time: Some("session".into()),
            score: Some("phq9".into()),
            ..Default::default()
        };
        let roles = resolve(&t, &flags, None).unwrap();
        let w = to_wide(&t, &roles, &["gad7"]).unwrap();
        let col = |n: &str| w.table.column(n).unwrap().as_num().unwrap().to_vec();
        assert_eq!(col("pre"), vec![15.0, 11.0]);
        assert_eq!(col("post")[0], 9.0);
        assert_eq!(col("gad7_first"), vec![12.0, 9.0]);
        assert_eq!(col("gad7_last")[0], 5.0);
        assert!(col("gad7_last")[1].is_nan());
        assert!(w.table.column("gad7").is_none());
    }

    #[test]
    fn dates_order_sessions() {
        let w = wide(
            "client,session,phq9\n\
             a,2024-03-01,10\n\
             a,2024-01-15,20\n\
             a,01/02/2024,15\n",
        )
        .unwrap();
        let t = &w.table;
        assert_eq!(t.column("pre").unwrap().as_num().unwrap()[0], 20.0);
        assert_eq!(t.column("post").unwrap().as_num().unwrap()[0], 10.0);
    }

    #[test]
    fn duplicate_sessions_and_changing_therapist_are_errors() {
        let e = wide("client,session,phq9\na,1,10\na,1,12\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = wide("client,therapist,session,phq9\na,T1,1,10\na,T2,2,12\n").unwrap_err();
        assert!(e.to_string().contains("'therapist'"), "{e}");
        let e = wide("client,session,phq9\na,first,10\n").unwrap_err();
        assert!(e.to_string().contains("'first'"), "{e}");
    }

    #[test]
    fn dates_parse() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11017));
        assert_eq!(parse_date("01/03/2000"), Some(11017));
        assert_eq!(parse_date("2000-13-01"), None);
    }
}
