//! Prints where the bytes of each partition go, per field and per component (term dictionary,
//! postings, positions, fast fields, field norms) and the doc store — the profile behind the
//! disk figures in BENCHMARKS.md.
//!
//! `cargo run --release -p pharos-collector --example index_space -- ./data/index`

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: index_space <data_dir>/index");
        std::process::exit(2);
    };
    for e in std::fs::read_dir(&dir).expect("index_space") {
        let p = e.expect("index_space").path();
        if !p.join("meta.json").exists() {
            continue;
        }
        let index = tantivy::Index::open_in_dir(&p).expect("index_space");

        let reader = index.reader().expect("index_space");
        let su = reader.searcher().space_usage().expect("index_space");
        let mut per: std::collections::BTreeMap<String, [usize; 5]> = Default::default();
        for seg in su.segments() {
            for (i, comp) in [
                seg.termdict(),
                seg.postings(),
                seg.positions(),
                seg.fast_fields(),
                seg.fieldnorms(),
            ]
            .iter()
            .enumerate()
            {
                for fu in comp.fields() {
                    per.entry(fu.field_name().to_string()).or_default()[i] +=
                        fu.total().get_bytes() as usize;
                }
            }
        }
        println!(
            "{} total {} store {}",
            p.display(),
            su.total().get_bytes(),
            su.segments()
                .iter()
                .map(|s| s.store().total().get_bytes())
                .sum::<u64>()
        );
        println!(
            "{:<16}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "field", "termdict", "postings", "positions", "fast", "fieldnorm"
        );
        for (f, v) in per {
            println!(
                "{:<16}{:>10}{:>10}{:>10}{:>10}{:>10}",
                f, v[0], v[1], v[2], v[3], v[4]
            );
        }
    }
}
