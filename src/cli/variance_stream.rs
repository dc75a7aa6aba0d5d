//! The variance design of a large file read in one pass (issue 9,
//! `--ingest`): the same analysis sample, W columns, checks and messages as
//! `design_from_data`, built from per-(therapist, site) moments accumulated
//! row by row ([`Growing`]) instead of from a table held in memory, so memory
//! grows with therapists × W columns, not with clients.
//!
//! Text levels are coded as they appear; at the end they are sorted as the
//! in-memory factor coding sorts them (numerically when the column holds
//! numbers, else by text), the reference level is dropped and the moments are
//! mapped onto the final columns (an indicator column is a sum of stream
//! columns, so the map is linear and exact). Random intercepts only need
//! these moments (science.md §2; `stats::variance::ri`).

use super::variance::{
    constant_outcome_error, empty_column_error, many_levels_error, nested_warning, one_level_error,
    plan, site_checks, split_alliance_note, therapist_checks, too_few_rows_error, too_many_levels,
    Design, FactorList, Plan, Source, VarianceArgs, CROSSED_NOTE, MAX_FACTOR_LEVELS,
};
use crate::data::fasthash::FastMap;
use crate::data::filter::Filter;
use crate::data::input::{
    prepare_head, repeated_client_problem, repeated_clients_error, Exclusion, InputInfo, Purpose,
};
use crate::data::roles::Role;
use crate::data::stream::{self, ChunkCol, KeySet, Kind, MISSING};
use crate::data::table::{format_num, parse_number};
use crate::error::{Error, Result};
use crate::stats::variance::ri::Random;
use crate::stats::variance::units::{pool_moments, Growing, Moments, Units};
use serde_json::{json, Map};
use std::collections::HashMap;

/// A design, or why this analysis cannot be read in one pass.
pub(crate) enum Streamed {
    Design(Box<Design>),
    Ineligible(String),
}

/// Final codes of a key column's texts: levels sorted as `lmm::factor`
/// sorts them (numbers numerically and printed by `format_num`, else text
/// by bytes), restricted to the texts in `seen`.
struct Levels {
    labels: Vec<String>,
    /// Per key code: the level, or None when not in the analysed rows.
    code: Vec<Option<u32>>,
}

fn levels(keys: &KeySet, seen: &[bool], numeric: bool, decimal_comma: bool) -> Levels {
    let nums: Option<Vec<f64>> = numeric
        .then(|| {
            keys.names
                .iter()
                .map(|s| parse_number(s, decimal_comma))
                .collect()
        })
        .flatten();
    let mut code = vec![None; keys.names.len()];
    let labels = match nums {
        Some(v) => {
            let mut lv: Vec<f64> = (0..v.len()).filter(|&k| seen[k]).map(|k| v[k]).collect();
            lv.sort_by(f64::total_cmp);
            lv.dedup();
            for k in 0..v.len() {
                if seen[k] {
                    code[k] = Some(lv.partition_point(|&l| l < v[k]) as u32);
                }
            }
            lv.into_iter().map(format_num).collect()
        }
        None => {
            let mut lv: Vec<&str> = (0..keys.names.len())
                .filter(|&k| seen[k])
                .map(|k| keys.names[k].as_str())
                .collect();
            lv.sort_unstable();
            for k in 0..keys.names.len() {
                if seen[k] {
                    code[k] = Some(lv.binary_search(&keys.names[k].as_str()).unwrap() as u32);
                }
            }
            lv.into_iter().map(String::from).collect()
        }
    };
    Levels { labels, code }
}

/// A key factor column of W: its chunk column and the stream column of each
/// key met in the analysed rows.
struct OneHot {
    chunk: usize,
    stream: Vec<usize>,
    /// Levels met so far (entries of `stream` that are not NONE).
    levels: usize,
    /// The design term and the column, for messages.
    def: String,
    column: String,
}

const NONE: usize = usize::MAX;

/// A client ID (high and low 64 bits of [`stream::id_of_text`]) and the
/// position of its row: 24 bytes a row, where (u128, u64) would take 32.
type ClientRow = (u64, u64, u64);

/// Buckets of client IDs (the top byte of a Fibonacci hash of the ID).
const ID_BUCKETS: usize = 256;

/// Refuses repeated client IDs among the rows the filter kept (`ids`: ID
/// value and position), as the in-memory path does
/// (`data::input::check_unique_clients`), naming the lines of each.
fn repeated_clients(s: &stream::Stream, client: &str, mut ids: Vec<Vec<ClientRow>>) -> Result<()> {
    // Each bucket sorted on its own, on all cores: equal IDs share a bucket,
    // and a bucket is small enough to sort in cache. (A total order: the
    // offsets differ, so the result is the same whatever the threads.)
    use rayon::prelude::*;
    ids.par_iter_mut().for_each(|b| b.sort_unstable());
    let mut groups: Vec<&[ClientRow]> = ids
        .iter()
        .flat_map(|b| b.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)))
        .filter(|g| g.len() > 1)
        .collect();
    if groups.is_empty() {
        return Ok(());
    }
    let repeated = groups.len();
    groups.sort_by_key(|g| g[1].2);
    let problems = groups.into_iter().map(|g| {
        let lines = s.lines(&[g[0].2, g[1].2]);
        let text = stream::id_text((u128::from(g[0].0) << 64) | u128::from(g[0].1));
        repeated_client_problem(
            &s.path,
            client,
            g.len(),
            (lines[0], lines[1]),
            text.as_deref(),
        )
    });
    Err(repeated_clients_error(&s.path, repeated, problems))
}

/// `purpose` and `roles`: as `variance` reads a file (AnalyseClients, the
/// input layer's roles), or as `lmm` reads it (rows, with the roles its
/// formula gives: [`crate::cli::lmm`]).
pub(crate) fn design_from_stream(
    args: &VarianceArgs,
    one_hot: bool,
    purpose: Purpose,
    roles: Option<&crate::data::roles::Roles>,
) -> Result<Streamed> {
    let (mut p, path) = prepare_head(&args.input.request(), purpose)?;
    if let Some(r) = roles {
        // (the input layer checks the columns of the roles it finds; these
        // come from a model formula)
        let t = &p.table;
        let named = r.assigned.iter().map(|a| &a.column).chain(&r.covariates);
        let absent: Vec<String> = named
            .filter(|c| t.index_of(c).is_none())
            .map(|c| format!("'{c}'"))
            .collect();
        if !absent.is_empty() {
            return Err(Error::input(format!(
                "--formula: the file has no column {}; the file has: {}",
                absent.join(", "),
                t.names_for_message()
            )));
        }
        p.roles = r.clone();
    }
    if p.long {
        return Ok(Streamed::Ineligible(
            "long (session-by-session) data are turned into one row per client first".into(),
        ));
    }
    let t = &p.table;
    let Plan {
        outcome,
        mut defs,
        used,
        therapist,
        site,
    } = plan(args, t, &p.roles)?;
    let Some(therapist) = therapist else {
        return Ok(Streamed::Ineligible(
            "without therapists (--therapist) the bootstrap units are single clients, which \
             a one-pass summary cannot keep"
                .into(),
        ));
    };
    if t.column(&outcome).and_then(|c| c.as_num()).is_none() {
        return Err(Error::input(format!(
            "{}: the outcome column '{outcome}' must hold numbers",
            t.source.path
        )));
    }
    let filter = match &p.filter {
        Some(text) => Some((Filter::parse(text)?, text.clone())),
        None => None,
    };

    // The chunk's columns: every used column, then the filter's.
    let mut cols: Vec<(usize, Kind)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut chunk_of = |name: &str, kind: Kind| -> usize {
        if let Some(i) = names.iter().position(|n| n == name) {
            return i;
        }
        cols.push((t.index_of(name).expect("checked column"), kind));
        names.push(name.to_string());
        names.len() - 1
    };
    let head_numeric = |c: &str| t.column(c).is_some_and(|x| x.is_numeric());
    let y_at = chunk_of(&outcome, Kind::Num);
    // per def: its numeric stream columns or one-hot columns, in W order
    enum Part {
        Num(usize, usize), // chunk column, stream column
        Hot(usize),        // index into onehots
    }
    // per def name: its columns' parts
    let mut parts: Vec<Vec<(String, Part)>> = Vec::new();
    let def_names: Vec<String> = defs.iter().map(|d| d.0.clone()).collect();
    let mut onehots: Vec<OneHot> = Vec::new();
    let mut width = 1usize; // stream column 0 is y

    // the alliance's stream column under --split-alliance
    let mut split_w: Option<usize> = None;
    for (name, src) in &defs {
        let mut v = Vec::new();
        if let Source::SplitAlliance(a, false) = src {
            v.push((a.clone(), Part::Num(chunk_of(a, Kind::Num), width)));
            split_w = Some(width);
            width += 1;
        }
        if let Source::Columns(cs) = src {
            for c in cs {
                if head_numeric(c) && name != "technique" {
                    v.push((c.clone(), Part::Num(chunk_of(c, Kind::Num), width)));
                    width += 1;
                } else {
                    onehots.push(OneHot {
                        chunk: chunk_of(c, Kind::Key),
                        stream: Vec::new(),
                        levels: 0,
                        def: name.clone(),
                        column: c.clone(),
                    });
                    v.push((c.clone(), Part::Hot(onehots.len() - 1)));
                }
            }
        }
        parts.push(v);
    }
    let th_at = chunk_of(&therapist, Kind::Key);
    let site_at = site.as_deref().map(|s| chunk_of(s, Kind::Key));
    let used_at: Vec<usize> = used
        .iter()
        .map(|u| {
            let kind = if head_numeric(&u.column)
                && u.column != therapist
                && Some(&u.column) != site.as_ref()
            {
                Kind::Num
            } else {
                Kind::Key
            };
            chunk_of(&u.column, kind)
        })
        .collect();
    let filter_at: Vec<usize> = filter.as_ref().map_or(Vec::new(), |(f, _)| {
        f.columns()
            .iter()
            .map(|c| {
                chunk_of(
                    c,
                    if head_numeric(c) {
                        Kind::Num
                    } else {
                        Kind::Key
                    },
                )
            })
            .collect()
    });
    // The client column, as IDs without their text, to find repeated clients
    // (the in-memory path refuses them too: wide data hold one row per client).
    let client_at = p.roles.get(Role::Client).map(|c| {
        cols.push((
            t.index_of(c).expect("a role names a column"),
            Kind::Id {
                numeric: head_numeric(c),
            },
        ));
        names.push(c.to_string());
        names.len() - 1
    });
    let tech_hot: Option<usize> = defs.iter().position(|d| d.0 == "technique").and_then(|i| {
        parts[i].iter().find_map(|(_, p)| match p {
            Part::Hot(h) => Some(*h),
            Part::Num(..) => None,
        })
    });

    // The pass.
    // client IDs in ID_BUCKETS buckets by a hash of the ID
    let mut ids: Vec<Vec<ClientRow>> = vec![Vec::new(); ID_BUCKETS];
    let mut cells: Vec<Growing> = Vec::new();
    let mut cell_of: FastMap<u64, usize> = FastMap::default();
    // per therapist code: its last (site code, cell, technique code)
    let mut last_cell: Vec<(u32, u32, u32)> = Vec::new();
    let mut cell_keys: Vec<(u32, u32)> = Vec::new();
    let mut dropped = vec![0usize; used.len()];
    let mut present = vec![0usize; used.len()];
    let mut by_filter = 0usize;
    // technique keys met per cell
    // (the first, and any others: most cells have one)
    let mut cell_tech: Vec<(u32, Vec<u32>)> = Vec::new();
    // per chunk: the rows kept (cell, row, stream width); per cell the first
    // row and first value in cell order; the rows' (cell, start, width) in
    // cell order and their values
    let mut kept: Vec<(usize, usize, usize)> = Vec::new();
    let mut first_missing: Vec<usize> = Vec::new();
    let mut rows_first: Vec<usize> = Vec::new();
    let mut at_first: Vec<usize> = Vec::new();
    let mut slots: Vec<(usize, usize, usize)> = Vec::new();
    let mut xs: Vec<f64> = Vec::new();
    let shown = t.source.path.clone();
    let dc = stream::decimal_comma(t);
    let numeric: Vec<bool> = names.iter().map(|c| head_numeric(c)).collect();
    let s = stream::read(&path, t, &cols, |chunk, keys| {
        let keep = match &filter {
            Some((f, _)) => {
                Some(f.apply(&chunk.table(&shown, &filter_at, &names, keys, &numeric, dc))?)
            }
            None => None,
        };
        let num = |i: usize, r: usize| match &chunk.cols[i] {
            ChunkCol::Num(v) => v[r],
            _ => unreachable!("numeric column"),
        };
        let key = |i: usize, r: usize| match &chunk.cols[i] {
            ChunkCol::Key(v) => v[r],
            _ => unreachable!("key column"),
        };
        let client_ids = client_at.map(|c| match &chunk.cols[c] {
            ChunkCol::Id(v) => v,
            _ => unreachable!("id column"),
        });
        // per row, the first used column with a missing value (a column at a
        // time: `none` when none is missing), and per column the rows the
        // filter keeps that have a value
        let none = used_at.len();
        first_missing.clear();
        first_missing.resize(chunk.rows(), none);
        let keep_row = |r: usize| keep.as_ref().is_none_or(|k| k[r]);
        for (i, &c) in used_at.iter().enumerate().rev() {
            let mut mark = |r: usize, gap: bool| {
                if gap {
                    first_missing[r] = i;
                } else if keep_row(r) {
                    present[i] += 1;
                }
            };
            match &chunk.cols[c] {
                ChunkCol::Num(v) => v.iter().enumerate().for_each(|(r, x)| mark(r, x.is_nan())),
                ChunkCol::Key(v) => v
                    .iter()
                    .enumerate()
                    .for_each(|(r, &x)| mark(r, x == MISSING)),
                ChunkCol::Id(v) => v.iter().enumerate().for_each(|(r, &x)| mark(r, x == 0)),
            }
        }
        kept.clear();
        for r in 0..chunk.rows() {
            if !keep_row(r) {
                by_filter += 1;
                continue;
            }
            if let Some(id) = client_ids.map(|v| v[r]).filter(|&id| id != 0) {
                let (hi, lo) = ((id >> 64) as u64, id as u64);
                let bucket = ((hi ^ lo).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
                ids[bucket].push((hi, lo, chunk.pos[r]));
            }
            if first_missing[r] < none {
                dropped[first_missing[r]] += 1;
                continue;
            }
            for oh in onehots.iter_mut() {
                let k = key(oh.chunk, r) as usize;
                if oh.stream.len() <= k {
                    oh.stream.resize(k + 1, NONE);
                }
                if oh.stream[k] == NONE {
                    oh.levels += 1;
                    if oh.levels > MAX_FACTOR_LEVELS {
                        return Err(many_levels_error(&oh.def, &oh.column, oh.levels, None));
                    }
                    oh.stream[k] = width;
                    width += 1;
                }
            }
            let tk = key(th_at, r);
            let sk = site_at.map_or(0, |c| key(c, r));
            // the therapist's last cell (and the technique last recorded in
            // it), else the map: one table read for most rows
            if last_cell.len() <= tk as usize {
                last_cell.resize(tk as usize + 1, (MISSING, 0, MISSING));
            }
            let cell = match last_cell[tk as usize] {
                (s, c, _) if s == sk => c as usize,
                _ => {
                    let id = (u64::from(tk) << 32) | u64::from(sk);
                    let c = *cell_of.entry(id).or_insert_with(|| {
                        cells.push(Growing::default());
                        cell_keys.push((tk, sk));
                        cell_tech.push((MISSING, Vec::new()));
                        cells.len() - 1
                    });
                    last_cell[tk as usize] = (sk, c as u32, MISSING);
                    c
                }
            };
            // the row's stream width: the columns known when it is read
            kept.push((cell, r, width));
            if let Some(h) = tech_hot {
                let tech = key(onehots[h].chunk, r);
                if last_cell[tk as usize].2 != tech {
                    last_cell[tk as usize].2 = tech;
                    let (one, more) = &mut cell_tech[cell];
                    if *one == MISSING {
                        *one = tech;
                    } else if *one != tech && !more.contains(&tech) {
                        more.push(tech);
                    }
                }
            }
        }
        // Add the rows cell by cell, each cell's rows in file order (the
        // sums are then those of adding row by row). The stream rows are
        // written straight to their place in cell order, so that adding
        // reads them and the cells' sums in order instead of fetching a
        // cell's sums from memory once a row; the two halves of the cells are
        // added on two threads.
        rows_first.clear();
        rows_first.resize(cells.len() + 1, 0);
        at_first.clear();
        at_first.resize(cells.len() + 1, 0);
        for &(c, _, w) in &kept {
            rows_first[c + 1] += 1;
            at_first[c + 1] += w;
        }
        for c in 0..cells.len() {
            rows_first[c + 1] += rows_first[c];
            at_first[c + 1] += at_first[c];
        }
        slots.clear();
        slots.resize(kept.len(), (0, 0, 0));
        xs.clear();
        xs.resize(at_first[cells.len()], 0.0);
        for &(c, r, w) in &kept {
            let at = at_first[c];
            at_first[c] += w;
            slots[rows_first[c]] = (c, at, w);
            rows_first[c] += 1;
            let x = &mut xs[at..at + w];
            x[0] = num(y_at, r);
            for v in &parts {
                for (_, p) in v {
                    if let Part::Num(c, w) = p {
                        x[*w] = num(*c, r);
                    }
                }
            }
            for oh in &onehots {
                x[oh.stream[key(oh.chunk, r) as usize]] = 1.0;
            }
        }
        let half = slots.get(slots.len() / 2).map_or(0, |s| s.0);
        let split = slots.partition_point(|s| s.0 < half);
        let (low, high) = cells.split_at_mut(half);
        let add = |part: &[(usize, usize, usize)], cells: &mut [Growing], offset: usize| {
            for &(c, at, w) in part {
                cells[c - offset].push(&xs[at..at + w]);
            }
        };
        rayon::join(
            || add(&slots[..split], low, 0),
            || add(&slots[split..], high, half),
        );
        Ok(())
    })?;

    if let Some(client) = p.roles.get(Role::Client) {
        repeated_clients(&s, client, ids)?;
    }

    // The analysis sample.
    let mut excluded = Vec::new();
    if let Some((_, text)) = &filter {
        if by_filter == s.rows_read {
            return Err(Error::analysis(format!(
                "the filter --where \"{text}\" keeps none of the {} rows",
                s.rows_read
            )));
        }
        if by_filter > 0 {
            excluded.push(Exclusion {
                reason: format!("--where {text}"),
                rows: by_filter,
            });
        }
    }
    for (u, &k) in used.iter().zip(&present) {
        if k == 0 {
            return Err(empty_column_error(u, &shown, filter.is_some()));
        }
    }
    for (u, &d) in used.iter().zip(&dropped) {
        if d > 0 {
            excluded.push(Exclusion {
                reason: format!("missing value in '{}' ({})", u.column, u.what),
                rows: d,
            });
        }
    }
    let n = cells.iter().map(|c| c.n).sum::<f64>() as usize;
    if n < 3 {
        return Err(too_few_rows_error(n, &used));
    }
    // stream moments of y over all cells: constant when every deviation is 0
    let y_parts: Vec<Moments> = cells
        .iter()
        .map(|c| (c.n, vec![c.mean(0)], vec![c.ss(0)]))
        .collect();
    let (_, y_mean, y_ss) = pool_moments(&y_parts, 1);
    if y_ss[0] == 0.0 && cells.iter().all(|c| c.mean(0) == y_mean[0]) {
        return Err(constant_outcome_error(&outcome, cells[0].mean(0), n));
    }

    let mut warnings: Vec<String> = Vec::new();
    let mut notes = p.notes.clone();
    let mut groups = Map::new();
    let key_levels =
        |chunk: usize, seen: &[bool]| levels(&s.keys[chunk], seen, head_numeric(&names[chunk]), dc);
    let seen_of = |chunk: usize, which: &dyn Fn(&(u32, u32)) -> u32| {
        let mut v = vec![false; s.keys[chunk].names.len()];
        for (ck, c) in cell_keys.iter().zip(&cells) {
            if c.n > 0.0 {
                v[which(ck) as usize] = true;
            }
        }
        v
    };
    let th_levels = key_levels(th_at, &seen_of(th_at, &|k| k.0));
    groups.insert(therapist.clone(), json!(th_levels.labels.len()));
    therapist_checks(&therapist, &th_levels.labels, n, one_hot, &mut warnings)?;
    let mut site_levels = site_at.map(|c| key_levels(c, &seen_of(c, &|k| k.1)));
    if let (Some(sname), Some(sl)) = (&site, &site_levels) {
        groups.insert(sname.clone(), json!(sl.labels.len()));
        if !site_checks(&sl.labels, one_hot, &mut warnings) {
            defs.retain(|d| !matches!(d.1, Source::Site));
            site_levels = None;
        }
    }

    // W = [1, factor columns…, y] and the map from stream columns.
    let mut wnames: Vec<String> = vec!["(Intercept)".into()];
    let mut sources: Vec<(String, Option<String>)> = vec![("(Intercept)".into(), None)];
    let mut fl = FactorList::default();
    let mut map: Vec<Option<usize>> = vec![None; width];
    let mut tech_levels: Option<Levels> = None;
    let mut split_cols: Option<(usize, usize)> = None;
    for (name, src) in &defs {
        let first = wnames.len();
        let (terms, cols_used, random) = match src {
            Source::Columns(cs) => {
                let pi = def_names.iter().position(|d| d == name).expect("def");
                for (c, part) in &parts[pi] {
                    match part {
                        Part::Num(_, w) => {
                            map[*w] = Some(wnames.len());
                            wnames.push(c.clone());
                            sources.push((c.clone(), None));
                        }
                        Part::Hot(h) => {
                            let oh = &onehots[*h];
                            let seen: Vec<bool> = (0..s.keys[oh.chunk].names.len())
                                .map(|k| oh.stream.get(k).is_some_and(|&w| w != NONE))
                                .collect();
                            let lv = key_levels(oh.chunk, &seen);
                            if lv.labels.len() < 2 && !one_hot {
                                return Err(one_level_error(
                                    name,
                                    c,
                                    lv.labels.first().map_or("", String::as_str),
                                    n,
                                ));
                            }
                            if too_many_levels(lv.labels.len(), n) {
                                return Err(many_levels_error(name, c, lv.labels.len(), Some(n)));
                            }
                            let base = wnames.len();
                            let skip = usize::from(!one_hot);
                            for level in lv.labels.iter().skip(skip) {
                                wnames.push(format!("{c}{level}"));
                                sources.push((c.clone(), Some(level.clone())));
                            }
                            for (k, &w) in oh.stream.iter().enumerate() {
                                if w == NONE {
                                    continue;
                                }
                                let l = lv.code[k].expect("seen") as usize;
                                map[w] = (l >= skip).then(|| base + l - skip);
                            }
                            if Some(*h) == tech_hot {
                                tech_levels = Some(lv);
                            }
                        }
                    }
                }
                (cs.clone(), cs.clone(), Random::NONE)
            }
            Source::Therapist => (
                vec![format!("(1 | {therapist})")],
                vec![therapist.clone()],
                Random {
                    therapist: true,
                    site: false,
                },
            ),
            Source::Site => {
                let sname = site.clone().unwrap_or_default();
                (
                    vec![format!("(1 | {sname})")],
                    vec![sname],
                    Random {
                        therapist: false,
                        site: true,
                    },
                )
            }
            // group-mean centring: within = alliance minus the therapist's
            // mean, between = that mean; the cells' means are set once the
            // therapists' means are known (below), their deviations are the
            // alliance's
            Source::SplitAlliance(a, between) => {
                let name = format!("{a}_{}", if *between { "between" } else { "within" });
                if *between {
                    split_cols = split_cols.map(|(w, _)| (w, first));
                } else {
                    map[split_w.expect("a stream column for the alliance")] = Some(first);
                    split_cols = Some((first, first));
                    notes.push(split_alliance_note(a));
                }
                wnames.push(name.clone());
                sources.push((name.clone(), None));
                (vec![name], vec![a.clone()], Random::NONE)
            }
        };
        fl.push(name, &wnames, first, terms, cols_used, random);
    }
    if fl.factors.is_empty() {
        return Err(Error::analysis("no factor is left to decompose over"));
    }
    let m = wnames.len() + 1;
    map[0] = Some(m - 1);

    // Identifiability: technique nested in therapist or in site.
    if let (Some(lv), Some(_)) = (&tech_levels, tech_hot) {
        let groups_of: [(&str, usize, Option<&Levels>); 2] = [
            ("therapist", 0, Some(&th_levels)),
            ("site", 1, site_levels.as_ref()),
        ];
        for (gname, which, gl) in groups_of {
            let Some(gl) = gl else { continue };
            // per final group: the final technique levels met
            let mut met: HashMap<u32, Vec<u32>> = HashMap::new();
            for (ck, (one, more)) in cell_keys.iter().zip(&cell_tech) {
                let techs = std::iter::once(one).filter(|t| **t != MISSING).chain(more);
                let g = if which == 0 { ck.0 } else { ck.1 };
                let Some(gc) = gl.code.get(g as usize).copied().flatten() else {
                    continue;
                };
                let v = met.entry(gc).or_default();
                for tk in techs {
                    if let Some(l) = lv.code[*tk as usize] {
                        if !v.contains(&l) {
                            v.push(l);
                        }
                    }
                }
            }
            if met.values().all(|v| v.len() <= 1) {
                warnings.push(nested_warning(gname, "technique"));
            }
        }
    }

    // Cells in final codes, pooled where texts share a level, sorted.
    // --split-alliance: each therapist's mean alliance over the analysed
    // clients, from its cells' counts and means
    let mut th_alliance = vec![(0.0, 0.0); th_levels.labels.len()];
    if let Some(sw) = split_w {
        for ((tk, _), c) in cell_keys.iter().zip(&cells) {
            if c.n > 0.0 {
                let t = &mut th_alliance[th_levels.code[*tk as usize].expect("met") as usize];
                t.0 += c.n * c.mean(sw);
                t.1 += c.n;
            }
        }
    }
    let mut pooled: HashMap<(u32, u32), Vec<Moments>> = HashMap::new();
    for ((tk, sk), c) in cell_keys.iter().zip(&cells) {
        let tc = th_levels.code[*tk as usize].expect("met");
        let sc = site_levels
            .as_ref()
            .map_or(0, |sl| sl.code[*sk as usize].expect("met"));
        let mut mo = c.moments(&map, m);
        if let Some((wc, bc)) = split_cols {
            let (sum, count) = th_alliance[tc as usize];
            let mean = sum / count;
            mo.1[wc] -= mean;
            mo.1[bc] = mean;
        }
        pooled.entry((tc, sc)).or_default().push(mo);
    }
    let mut keys_sorted: Vec<(u32, u32)> = pooled.keys().copied().collect();
    keys_sorted.sort_unstable();
    let final_cells: Vec<(u32, u32, Moments)> = keys_sorted
        .iter()
        .map(|k| {
            let v = &pooled[k];
            let mo = if v.len() == 1 {
                v[0].clone()
            } else {
                pool_moments(v, m)
            };
            (k.0, k.1, mo)
        })
        .collect();
    let refs: Vec<(u32, u32, &Moments)> =
        final_cells.iter().map(|(a, b, mo)| (*a, *b, mo)).collect();
    let n_sites = site_levels.as_ref().map_or(1, |sl| sl.labels.len());
    let units = Units::from_cells(
        m,
        &refs,
        th_levels.labels.len(),
        n_sites,
        site_levels.is_some(),
    );
    if site_levels.is_some() && !units.nested {
        notes.push(CROSSED_NOTE.into());
    }
    notes.push(format!(
        "read in one pass (--ingest {}): per-therapist sums of {} rows, never all rows in memory",
        if args.ingest == stream::Ingest::Stream {
            "stream"
        } else {
            "auto: a large file"
        },
        s.rows_read
    ));
    Ok(Streamed::Design(Box::new(Design {
        units,
        names: wnames,
        sources,
        site_levels: site_levels.map_or(Vec::new(), |sl| sl.labels),
        factors: fl.factors,
        infos: fl.infos,
        formula_terms: fl.formula_terms,
        split_cols,
        warnings,
        notes,
        groups,
        therapist: Some(therapist),
        site,
        outcome,
        n,
        input: InputInfo {
            path: s.path.clone(),
            sha256: s.sha256.clone(),
            rows_read: s.rows_read,
            rows_used: n,
        },
        roles: p.roles.to_json(),
        excluded,
    })))
}
