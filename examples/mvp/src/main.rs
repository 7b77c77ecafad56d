fn main() -> std::process::ExitCode {
    datasurface::main(mvp::ecosystem())
}
