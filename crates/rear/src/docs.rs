//! Man pages and shell completions, generated from the clap definition (see `cargo xtask man`).

use clap_complete::Shell;

/// (file name, contents) of `rear.8` and one page per workflow.
///
/// # Errors
/// When rendering fails (it writes to memory, so only on a clap bug).
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let cmd = crate::cli::command();
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .date("")
        .render(&mut buf)?;
    pages.push(("rear.8".to_string(), buf));
    for sub in cmd.get_subcommands() {
        let name = format!("rear-{}", sub.get_name());
        let sub = sub.clone().name(name.clone());
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub).section("8").render(&mut buf)?;
        pages.push((format!("{name}.8"), buf));
    }
    Ok(pages)
}

/// (file name, contents) of the bash, zsh and fish completions.
pub fn completions() -> Vec<(String, Vec<u8>)> {
    [
        (Shell::Bash, "rear.bash"),
        (Shell::Zsh, "_rear"),
        (Shell::Fish, "rear.fish"),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let mut cmd = crate::cli::command();
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, "rear", &mut buf);
        (file.to_string(), buf)
    })
    .collect()
}
