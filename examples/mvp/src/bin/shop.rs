//! The shop's runtime binary: its ecosystem captured by logical replication.

fn main() -> std::process::ExitCode {
    datasurface::main(mvp::orders::ecosystem())
}
