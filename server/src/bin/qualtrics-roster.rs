//! `qualtrics-roster`: the command-line tool (see `roster_server::cli`).

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = roster_server::cli::Cli::parse();
    let code = roster_server::cli::main(cli).await;
    std::process::exit(code);
}
