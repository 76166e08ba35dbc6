//! `include/sentinel.h` is what the pinned cbindgen generates from the sources: a change to
//! the C API that is not followed by `SENTINEL_UPDATE_HEADER=1 cargo test -p
//! mcp-threatscan-ffi --test header` fails here (and so in CI).

use std::path::Path;

#[test]
fn the_committed_header_is_the_generated_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = dir.join("include").join("sentinel.h");
    if std::env::var_os("SENTINEL_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/sentinel.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/sentinel.h differs from what cbindgen generates from the sources: run \
         `SENTINEL_UPDATE_HEADER=1 cargo test -p mcp-threatscan-ffi --test header` and commit it"
    );
}
