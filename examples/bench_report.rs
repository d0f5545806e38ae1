//! The reporting half of `scripts/bench.sh`: turns the load generator's JSON results into
//! Markdown tables of medians, and puts a section into BENCHMARKS.md between its markers.
//!
//! - `bench_report tables <results dir>` reads `<dir>/oha/<scenario>.c<concurrency>.r<run>.json`
//!   (oha's `--output-format json`) and `<dir>/rss.tsv` (`<state>\t<VmHWM kB>`, one line per
//!   run) and prints the tables.
//! - `bench_report splice <file> <section file>` replaces what lies between [`BEGIN`] and
//!   [`END`] in `file` with the section (markers included), or appends it when the markers are
//!   missing; the rest of the file stays as it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// First line of the generated section.
const BEGIN: &str = "<!-- scripts/bench.sh: begin (generated; edit the script, not this) -->";
/// Last line of the generated section.
const END: &str = "<!-- scripts/bench.sh: end -->";

type Error = Box<dyn std::error::Error>;

/// What one load-generator run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Requests answered with a status other than 2xx, or not answered at all.
    failed: u64,
}

impl Run {
    /// Reads oha's JSON summary: latencies there are in seconds.
    fn from_oha(json: &Value) -> Result<Self, Error> {
        let number = |pointer: &str| {
            json.pointer(pointer)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("oha output lacks {pointer}"))
        };
        let counts = |pointer: &str, failure: fn(&str) -> bool| -> u64 {
            json.pointer(pointer)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(key, _)| failure(key))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        };
        let not_2xx = counts("/statusCodeDistribution", |status| !status.starts_with('2'));
        let errors = counts("/errorDistribution", |_| true);
        Ok(Self {
            requests_per_sec: number("/summary/requestsPerSec")?,
            p50_ms: number("/latencyPercentiles/p50")? * 1e3,
            p99_ms: number("/latencyPercentiles/p99")? * 1e3,
            failed: not_2xx + errors,
        })
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[mid],
        _ => (values[mid - 1] + values[mid]) / 2.0,
    }
}

/// Each figure's median over the runs, and the failures summed.
fn summarize(runs: &[Run]) -> Run {
    let of = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    Run {
        requests_per_sec: of(|r| r.requests_per_sec),
        p50_ms: of(|r| r.p50_ms),
        p99_ms: of(|r| r.p99_ms),
        failed: runs.iter().map(|r| r.failed).sum(),
    }
}

/// Runs by scenario, then concurrency, from `<scenario>.c<concurrency>.r<run>.json` files.
type Results = BTreeMap<String, BTreeMap<u32, Vec<Run>>>;

fn read_results(dir: &Path) -> Result<Results, Error> {
    let mut results = Results::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let parts: Vec<&str> = stem.split('.').collect();
        let [scenario, concurrency, _run] = parts.as_slice() else {
            return Err(format!("unexpected result file {name}").into());
        };
        let concurrency: u32 = concurrency
            .strip_prefix('c')
            .ok_or_else(|| format!("no concurrency in {name}"))?
            .parse()?;
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let run = Run::from_oha(&json).map_err(|e| format!("{name}: {e}"))?;
        results
            .entry((*scenario).to_owned())
            .or_default()
            .entry(concurrency)
            .or_default()
            .push(run);
    }
    Ok(results)
}

fn runs_of<'a>(results: &'a Results, scenario: &str) -> impl Iterator<Item = (u32, Run)> + 'a {
    results
        .get(scenario)
        .into_iter()
        .flatten()
        .map(|(c, runs)| (*c, summarize(runs)))
}

/// hookd's token triggers beside its two ceilings at each concurrency: the bare actix-web
/// server, and the same server doing a durable fire's disk work per request.
fn trigger_table(results: &Results) -> String {
    let mut out = String::from(
        "| concurrency | hookd req/s | p50 ms | p99 ms | bare actix-web req/s | p50 ms | p99 ms \
         | hookd / ceiling | durable ceiling req/s | p50 ms | p99 ms | hookd / durable ceiling \
         | failed |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (c, hookd) in runs_of(results, "trigger") {
        let (bare_cells, bare_failed) = ceiling_cells(results, "bare", c, &hookd);
        let (durable_cells, durable_failed) = ceiling_cells(results, "durable", c, &hookd);
        let _ = writeln!(
            out,
            "| {c} | {:.0} | {:.2} | {:.2} | {bare_cells} | {durable_cells} | {} |",
            hookd.requests_per_sec,
            hookd.p50_ms,
            hookd.p99_ms,
            hookd.failed + bare_failed + durable_failed
        );
    }
    out
}

/// The cells of `scenario`'s run at concurrency `c` (rate, p50, p99, and `hookd`'s share of its
/// rate), dashes when it did not run; and its failures.
fn ceiling_cells(results: &Results, scenario: &str, c: u32, hookd: &Run) -> (String, u64) {
    match runs_of(results, scenario).find(|(cc, _)| *cc == c) {
        Some((_, ceiling)) => (
            format!(
                "{:.0} | {:.2} | {:.2} | {:.1} %",
                ceiling.requests_per_sec,
                ceiling.p50_ms,
                ceiling.p99_ms,
                100.0 * hookd.requests_per_sec / ceiling.requests_per_sec
            ),
            ceiling.failed,
        ),
        None => ("- | - | - | -".to_owned(), 0),
    }
}

/// Read endpoints: one row per endpoint and concurrency.
fn read_table(results: &Results) -> String {
    let mut out = String::from(
        "| endpoint | concurrency | req/s | p50 ms | p99 ms | failed |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (scenario, label) in [("get", "GET hook"), ("list", "listHooks")] {
        for (c, run) in runs_of(results, scenario) {
            let _ = writeln!(
                out,
                "| {label} | {c} | {:.0} | {:.2} | {:.2} | {} |",
                run.requests_per_sec, run.p50_ms, run.p99_ms, run.failed
            );
        }
    }
    out
}

/// Peak RSS per state, median over the runs, from `<state>\t<kB>` lines in file order.
fn rss_table(tsv: &str) -> Result<String, Error> {
    let mut states: Vec<(String, Vec<f64>)> = Vec::new();
    for line in tsv.lines().filter(|l| !l.trim().is_empty()) {
        let (state, kb) = line
            .rsplit_once('\t')
            .ok_or_else(|| format!("bad rss line {line:?}"))?;
        let kb: f64 = kb.trim().parse()?;
        match states.iter_mut().find(|(s, _)| s == state) {
            Some((_, values)) => values.push(kb),
            None => states.push((state.to_owned(), vec![kb])),
        }
    }
    let mut out = String::from("| state | peak RSS (VmHWM) MiB | runs |\n|---|---:|---:|\n");
    for (state, values) in states {
        let runs = values.len();
        let _ = writeln!(out, "| {state} | {:.1} | {runs} |", median(values) / 1024.0);
    }
    Ok(out)
}

/// `file`'s text with the generated section replaced by (or, lacking markers, ending in)
/// `section`.
fn splice(file: &str, section: &str) -> String {
    let block = format!("{BEGIN}\n{}\n{END}", section.trim_end());
    match (file.find(BEGIN), file.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &file[..begin], &file[end + END.len()..])
        }
        _ => format!("{}\n\n{block}\n", file.trim_end()),
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["tables", dir] => {
            let dir = Path::new(dir);
            let results = read_results(&dir.join("oha"))?;
            let rss = std::fs::read_to_string(dir.join("rss.tsv"))?;
            println!("### triggerHookWithToken against the framework and durable ceilings\n");
            println!("{}", trigger_table(&results));
            println!("### Reads\n");
            println!("{}", read_table(&results));
            println!("### Memory\n");
            print!("{}", rss_table(&rss)?);
            Ok(())
        }
        ["splice", file, section] => {
            let text = std::fs::read_to_string(file)?;
            let section = std::fs::read_to_string(section)?;
            std::fs::write(file, splice(&text, &section))?;
            Ok(())
        }
        _ => Err("usage: bench_report tables <dir> | bench_report splice <file> <section>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oha(rps: f64, p50_s: f64, p99_s: f64, statuses: Value) -> Value {
        json!({
            "summary": {"successRate": 1.0, "requestsPerSec": rps},
            "latencyPercentiles": {"p50": p50_s, "p99": p99_s},
            "statusCodeDistribution": statuses,
            "errorDistribution": {},
        })
    }

    #[test]
    fn a_run_reads_rate_latencies_in_ms_and_counts_non_2xx_answers() {
        let run = Run::from_oha(&oha(
            1000.0,
            0.002,
            0.010,
            json!({"200": 95, "429": 3, "500": 2}),
        ))
        .unwrap();
        assert_eq!(
            run,
            Run {
                requests_per_sec: 1000.0,
                p50_ms: 2.0,
                p99_ms: 10.0,
                failed: 5
            }
        );
    }

    #[test]
    fn transport_errors_count_as_failures() {
        let mut json = oha(10.0, 0.001, 0.001, json!({"200": 10}));
        json["errorDistribution"] = json!({"connection refused": 4});
        assert_eq!(Run::from_oha(&json).unwrap().failed, 4);
    }

    #[test]
    fn output_without_percentiles_is_an_error() {
        assert!(Run::from_oha(&json!({"summary": {"requestsPerSec": 1.0}})).is_err());
    }

    #[test]
    fn each_figure_is_its_own_median_over_the_runs() {
        let run = |rps, p50_ms, p99_ms| Run {
            requests_per_sec: rps,
            p50_ms,
            p99_ms,
            failed: 1,
        };
        let summary = summarize(&[
            run(300.0, 1.0, 9.0),
            run(100.0, 3.0, 7.0),
            run(200.0, 2.0, 8.0),
        ]);
        assert_eq!(summary, run(200.0, 2.0, 8.0).with_failed(3));
        assert_eq!(
            median(vec![4.0, 1.0, 3.0, 2.0]),
            2.5,
            "even count: mean of the middle two"
        );
    }

    #[test]
    fn the_trigger_row_shows_its_share_of_each_ceiling_and_dashes_for_one_not_run() {
        let run = |rps, failed| Run {
            requests_per_sec: rps,
            p50_ms: 1.0,
            p99_ms: 2.0,
            failed,
        };
        let mut results = Results::new();
        for (scenario, c, rps, failed) in [
            ("trigger", 64, 1000.0, 1),
            ("bare", 64, 10000.0, 2),
            ("durable", 64, 2000.0, 4),
            ("trigger", 1, 100.0, 0),
            ("bare", 1, 400.0, 0),
        ] {
            let by_c = results.entry(scenario.to_owned()).or_default();
            by_c.entry(c).or_default().push(run(rps, failed));
        }
        let table = trigger_table(&results);
        let rows: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(
            rows,
            [
                "| 1 | 100 | 1.00 | 2.00 | 400 | 1.00 | 2.00 | 25.0 % | - | - | - | - | 0 |",
                "| 64 | 1000 | 1.00 | 2.00 | 10000 | 1.00 | 2.00 | 10.0 % | 2000 | 1.00 | 2.00 \
                 | 50.0 % | 7 |",
            ]
        );
    }

    #[test]
    fn splice_replaces_only_the_generated_section() {
        let file = format!("# Benchmarks\n\nintro\n\n{BEGIN}\nold\n{END}\n\n## Later section\n");
        let spliced = splice(&file, "new\n");
        assert_eq!(
            spliced,
            format!("# Benchmarks\n\nintro\n\n{BEGIN}\nnew\n{END}\n\n## Later section\n")
        );
        assert_eq!(
            splice(&spliced, "new\n"),
            spliced,
            "splicing again changes nothing"
        );
    }

    #[test]
    fn splice_appends_the_section_when_the_markers_are_missing() {
        assert_eq!(
            splice("# Benchmarks\n", "new"),
            format!("# Benchmarks\n\n{BEGIN}\nnew\n{END}\n")
        );
    }

    #[test]
    fn rss_rows_keep_file_order_and_take_the_median_in_mib() {
        let table = rss_table("idle\t1024\nidle\t3072\nidle\t2048\nloaded\t10240\n").unwrap();
        assert!(table.contains("| idle | 2.0 | 3 |"), "{table}");
        assert!(
            table.find("idle").unwrap() < table.find("loaded").unwrap(),
            "{table}"
        );
    }

    impl Run {
        fn with_failed(self, failed: u64) -> Self {
            Self { failed, ..self }
        }
    }
}
