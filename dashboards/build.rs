//! Embeds the committed UI bundle (`ui/dist/`, built by `npm run build` in `ui/`) as a table
//! of `include_bytes!`: `cargo build` needs no Node, and no crate beyond std. Each file comes
//! with its pre-compressed `.gz` and `.br` siblings when the bundle has them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// FNV-1a: a stable content hash for the ETag (the build must not depend on std's hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() {
    let dist = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("ui/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut all = Vec::new();
    files(&dist, &mut all);
    all.sort();
    let mut code = String::from("pub(crate) static ASSETS: &[Asset] = &[\n");
    for path in &all {
        let name = path.to_string_lossy();
        if name.ends_with(".gz") || name.ends_with(".br") {
            continue;
        }
        let rel = path
            .strip_prefix(&dist)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(path).unwrap();
        let variant = |ext: &str| {
            let p = PathBuf::from(format!("{name}.{ext}"));
            if p.is_file() {
                format!("Some(include_bytes!({:?}))", p.display().to_string())
            } else {
                "None".to_string()
            }
        };
        writeln!(
            code,
            "    Asset {{ path: {rel:?}, identity: include_bytes!({:?}), gzip: {}, brotli: {}, etag: \"W/\\\"{:016x}\\\"\" }},",
            path.display().to_string(),
            variant("gz"),
            variant("br"),
            fnv1a(&bytes),
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("ui_assets.rs");
    std::fs::write(out, code).unwrap();
}
