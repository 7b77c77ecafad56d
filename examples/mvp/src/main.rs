fn main() -> std::process::ExitCode {
    let app = datasurface::App::new(mvp::ecosystem());
    #[cfg(feature = "dev")]
    let app = app.scenario(mvp::scenario::Mvp);
    app.main()
}
