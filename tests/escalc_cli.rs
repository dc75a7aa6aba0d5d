//! `outcomes escalc` through the binary. Numbers against metafor for every
//! measure are in tests/escalc_golden.rs; here: the output table, JSON, -o,
//! and bad input. The dat.bcg values (log RR of trial 1: yi =
//! −0.889311333920205, vi = 0.325584765003961) are metafor 3.8-1's
//! `escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)`, to 1e-12.

mod common;
use common::*;

const BCG: &str = "trial,author,year,tpos,tneg,cpos,cneg,ablat,alloc
1,Aronson,1948,4,119,11,128,44,random
2,Ferguson & Simes,1949,6,300,29,274,55,random
";

#[test]
fn table_plus_yi_vi() {
    let dir = tempdir("escalc");
    let f = write(&dir, "bcg.csv", BCG.as_bytes());
    let args = [
        "escalc",
        &f,
        "--measure",
        "RR",
        "--ai",
        "tpos",
        "--bi",
        "tneg",
        "--ci",
        "cpos",
        "--di",
        "cneg",
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "trial,author,year,tpos,tneg,cpos,cneg,ablat,alloc,yi,vi"
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (yi, vi): (f64, f64) = (first[9].parse().unwrap(), first[10].parse().unwrap());
    assert!((yi + 0.889311333920205).abs() < 1e-12);
    assert!((vi - 0.325584765003961).abs() < 1e-12);
    // JSON: one object with the contract's keys.
    let mut jargs = args.to_vec();
    jargs.extend(["--format", "json"]);
    let j = json(&jargs);
    assert_eq!(j["command"], "escalc");
    assert_eq!(j["measure"], "RR");
    assert_eq!(j["k"], 2);
    assert_eq!(j["effects"][1]["line"], 3);
    // -o with a Parquet extension writes Parquet that loads again.
    let pq = dir.join("bcg.parquet");
    let mut oargs = args.to_vec();
    oargs.extend(["-o", pq.to_str().unwrap()]);
    assert_eq!(run(&oargs).status.code(), Some(0));
    let back = json(&["inspect", pq.to_str().unwrap(), "--format", "json"]);
    assert_eq!(back["input"]["rows_read"], 2);
}

#[test]
fn bad_input_names_line_column_value() {
    let dir = tempdir("escalc-bad");
    let f = write(&dir, "bad.csv", b"study,a,b,c,d\ns1,5,-3,2,9\ns2,1,2,x,4\n");
    let o = run(&[
        "escalc",
        &f,
        "--measure",
        "OR",
        "--ai",
        "a",
        "--bi",
        "b",
        "--ci",
        "c",
        "--di",
        "d",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("line 3, column 'c', value 'x'"), "{e}");
    let g = write(&dir, "neg.csv", b"study,a,b,c,d\ns1,5,-3,2,9\n");
    let o = run(&[
        "escalc",
        &g,
        "--measure",
        "OR",
        "--ai",
        "a",
        "--bi",
        "b",
        "--ci",
        "c",
        "--di",
        "d",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 2, column 'b', value '-3'"),
        "{}",
        stderr(&o)
    );
    // Missing arguments, unknown measure, no DATA.
    let o = run(&["escalc", &g, "--measure", "OR", "--ai", "a"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("missing: --bi, --ci, --di"),
        "{}",
        stderr(&o)
    );
    let o = run(&["escalc", &g, "--measure", "XYZ"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SMD"));
    let o = run(&["escalc", "--measure", "SMD"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs DATA"));
    assert!(!stderr(&o).contains("panicked"));
}
