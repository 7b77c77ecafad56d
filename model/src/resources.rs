//! What a container asks of the node it runs on: CPU and memory, as Kubernetes quantities.
//! A platform's batch pods take the platform's resources; the provider's Airflow and
//! PostgreSQL take the provider's. Requests are what the scheduler reserves; the memory
//! limit is the request unless set higher, and CPU is not limited unless asked (a CPU limit
//! throttles a batch that could use an idle core).

/// CPU and memory for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// CPU reserved (`250m` is a quarter of a core).
    pub cpu: String,
    /// Memory reserved (`512Mi`), and the memory limit unless [`memory_limit`](Self::memory_limit)
    /// is set.
    pub memory: String,
    /// A CPU limit; none by default.
    pub cpu_limit: Option<String>,
    /// A memory limit above the request.
    pub memory_limit: Option<String>,
}

impl Resources {
    /// Requests of `cpu` and `memory` (Kubernetes quantities: `250m`, `1`, `512Mi`, `2Gi`);
    /// the memory limit is the request, and there is no CPU limit.
    pub fn new(cpu: impl Into<String>, memory: impl Into<String>) -> Self {
        Resources {
            cpu: cpu.into(),
            memory: memory.into(),
            cpu_limit: None,
            memory_limit: None,
        }
    }

    /// Sets a CPU limit.
    pub fn cpu_limit(mut self, cpu: impl Into<String>) -> Self {
        self.cpu_limit = Some(cpu.into());
        self
    }

    /// Sets a memory limit above the request.
    pub fn memory_limit(mut self, memory: impl Into<String>) -> Self {
        self.memory_limit = Some(memory.into());
        self
    }

    /// The memory limit: the one set, or the request.
    pub fn memory_limit_or_request(&self) -> &str {
        self.memory_limit.as_deref().unwrap_or(&self.memory)
    }

    /// Every quantity with what it is (`cpu request`), for validation.
    pub(crate) fn quantities(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("cpu request", self.cpu.as_str())];
        out.push(("memory request", self.memory.as_str()));
        if let Some(cpu) = &self.cpu_limit {
            out.push(("cpu limit", cpu.as_str()));
        }
        if let Some(memory) = &self.memory_limit {
            out.push(("memory limit", memory.as_str()));
        }
        out
    }
}

/// Checks a Kubernetes quantity as these resources use it: a positive decimal number with
/// an optional suffix (`m`, `k`, `M`, `G`, `T`, `P`, `E`, `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`).
pub fn check_quantity(quantity: &str) -> Result<(), String> {
    const SUFFIXES: [&str; 13] = [
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m", "k", "M", "G", "T", "P", "E",
    ];
    let number = SUFFIXES
        .iter()
        .find_map(|s| quantity.strip_suffix(s))
        .unwrap_or(quantity);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let decimal = match number.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(number),
    };
    let valid = decimal && number.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{quantity}` is not a Kubernetes quantity greater than 0 (like `250m`, `1`, `512Mi`, `2Gi`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_quantity;

    #[test]
    fn quantities() {
        for ok in ["250m", "1", "0.5", "512Mi", "2Gi", "1500M", "100k"] {
            assert!(check_quantity(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "0", "0m", "-1", "1.", ".5", "1 Gi", "1GB", "512mi", "Mi", "1.5.2",
        ] {
            assert!(check_quantity(bad).is_err(), "{bad}");
        }
    }
}
