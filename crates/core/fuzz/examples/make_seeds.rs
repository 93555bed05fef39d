//! Writes each target's seed inputs into corpus/<target>/seed-<name>.
//! Run from crates/core/fuzz: `cargo run --example make_seeds`.
use std::{fs, path::Path};

fn main() -> std::io::Result<()> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, _) in peerwire_core_fuzz::TARGETS {
        let dir = corpus.join(target);
        fs::create_dir_all(&dir)?;
        for (name, bytes) in peerwire_core_fuzz::seeds(target) {
            fs::write(dir.join(format!("seed-{name}")), bytes)?;
        }
    }
    Ok(())
}
