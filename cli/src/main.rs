//! `qualtrics-roster`: the command-line tool (see the `roster_cli` library).

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = roster_cli::Cli::parse();
    let code = roster_cli::main(cli).await;
    std::process::exit(code);
}
