//! The runtime binary's exit codes: what a shell, Airflow and Kubernetes read of a command.
//! Defined here, with generation, because the DAGs carry one of them ([`Exit::Busy`] skips
//! the task); the engine's errors, the command line and its `--help` read the same values.

/// How a command of the runtime binary ended, as its process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// The command did what it was asked.
    Success,
    /// The command failed; its error says why and what to do.
    Failure,
    /// The command line could not be parsed.
    Usage,
    /// The stream is busy: another runner holds it and nothing was done (EX_TEMPFAIL).
    Busy,
    /// Stopped by SIGINT or SIGTERM before it was done (128 + SIGINT).
    Interrupted,
}

impl Exit {
    /// Every exit code, in the order `--help` lists them.
    pub const ALL: [Exit; 5] = [
        Exit::Success,
        Exit::Failure,
        Exit::Usage,
        Exit::Busy,
        Exit::Interrupted,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Busy => 75,
            Exit::Interrupted => 130,
        }
    }

    /// What the code tells the person who reads it.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Failure => "the command failed (the error says why and what to do)",
            Exit::Usage => "usage error",
            Exit::Busy => "the stream is busy: another run holds it; try again later",
            Exit::Interrupted => "interrupted; an open batch resumes on the next run",
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}
