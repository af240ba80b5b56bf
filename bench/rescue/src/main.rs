//! Builds a rescue ISO of this host with rear-core, timed step by step.
//!
//! Usage: rescue-bench KERNEL_ROOT KERNEL_VERSION OUT_DIR [COMPRESSION]
//! Prints one line per step and a final `RESULT total_s=… initrd_bytes=… iso_bytes=…` line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rear_core::cmd::SystemRunner;
use rear_core::rescue::output::{OutputKind, OutputOptions};
use rear_core::rescue::{self, Compression, KernelSource, RescueOptions};
use rear_core::ui::RecordingUi;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: rescue-bench KERNEL_ROOT KERNEL_VERSION OUT_DIR [COMPRESSION]".into());
    }
    let out = PathBuf::from(&args[3]);
    let compression = Compression::from_config(args.get(4).map_or("", String::as_str))?;
    let runner = SystemRunner::new();
    let ui = RecordingUi::new();
    let t0 = Instant::now();
    let kernel = KernelSource::in_root(Path::new(&args[1]), &args[2])?;
    let opts = RescueOptions::new(&out.join("work"), kernel, &std::env::current_exe()?);
    let tree = rescue::build_rescue_tree(&opts, &runner, &ui)?;
    let t_tree = t0.elapsed();
    let initrd = out.join("work").join(compression.file_name());
    let pack = rescue::pack_initramfs(&tree.root, &initrd, compression, 0, &runner)?;
    let t_pack = t0.elapsed();
    let mut o = OutputOptions::new(&out.join("work"), &opts.hostname);
    o.kind = OutputKind::Iso;
    o.output_dir = out.clone();
    let files = rescue::write_output(&o, &tree.kernel_image, &initrd, &runner, &ui)?;
    let total = t0.elapsed();
    let iso = std::fs::metadata(&files.files[0])?.len();
    println!(
        "tree {:.2}s ({} programs, {} libraries, {} modules, {} firmware)",
        t_tree.as_secs_f64(),
        tree.programs.len(),
        tree.libraries.len(),
        tree.modules.len(),
        tree.firmware.len()
    );
    println!(
        "pack {:.2}s (cpio {} bytes)",
        (t_pack - t_tree).as_secs_f64(),
        pack.cpio_bytes
    );
    println!("iso {:.2}s", (total - t_pack).as_secs_f64());
    println!(
        "RESULT total_s={:.2} initrd_bytes={} iso_bytes={} cpio_bytes={}",
        total.as_secs_f64(),
        pack.compressed_bytes,
        iso,
        pack.cpio_bytes
    );
    Ok(())
}
