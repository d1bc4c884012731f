//! Writes a pair of sample frames (a valid 1280×720 PNG each) to the given directory.

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".to_string());
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let first = veo_core::sample::gradient_png(1280, 720, [255, 140, 0], [40, 0, 90]);
    let last = veo_core::sample::gradient_png(1280, 720, [20, 30, 120], [250, 250, 210]);
    std::fs::write(dir.join("first.png"), first)?;
    std::fs::write(dir.join("last.png"), last)?;
    eprintln!("wrote {0}/first.png and {0}/last.png", dir.display());
    Ok(())
}
