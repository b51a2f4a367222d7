//! `RANKMAMBA_HOST_PROFILE=FILE` in a `train` built with `--features host-profile` (and
//! `--profile profiling`, which keeps the symbols): a sampling profile of every thread of the
//! process (pprof-rs: SIGPROF on the process's CPU time, 999 Hz) from the first loss read at or
//! after step `RANKMAMBA_HOST_PROFILE_FROM` (default 4: past the kernels' compilation and
//! autotuning) to the end of the run. Written as collapsed stacks, `thread;outermost;…;innermost
//! samples` per line (the input of flamegraph.pl and inferno); `scripts/host_profile_summary.py`
//! sums them by thread, crate and function. It exists because the GPU machines have no perf.

use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::PathBuf;

/// A profile asked for by the environment: waits for its first step, then samples until `finish`.
pub struct HostProfile {
    path: PathBuf,
    from_step: usize,
    guard: Option<pprof::ProfilerGuard<'static>>,
}

impl HostProfile {
    /// The profile `RANKMAMBA_HOST_PROFILE` asks for, if it is set.
    pub fn from_env() -> Result<Option<Self>> {
        let Some(path) = std::env::var_os("RANKMAMBA_HOST_PROFILE") else { return Ok(None) };
        let from = std::env::var("RANKMAMBA_HOST_PROFILE_FROM").ok();
        let from_step = super::parse_count("RANKMAMBA_HOST_PROFILE_FROM", from.as_deref())?.unwrap_or(4);
        Ok(Some(Self { path: path.into(), from_step, guard: None }))
    }

    /// Called with each logged step: sampling starts at the first at or after `from_step`.
    pub fn logged(&mut self, step: usize) -> Result<()> {
        if self.guard.is_none() && step >= self.from_step {
            // samples inside these libraries are dropped: unwinding out of them from a signal
            // handler can deadlock (pprof-rs's advice)
            let guard = pprof::ProfilerGuardBuilder::default()
                .frequency(999)
                .blocklist(&["libc", "libgcc", "pthread", "vdso"])
                .build()
                .map_err(|e| Error::Backend(format!("RANKMAMBA_HOST_PROFILE: starting the profiler: {e}")))?;
            self.guard = Some(guard);
        }
        Ok(())
    }

    /// Write the collapsed stacks (atomically); returns the file and the number of samples (0 when
    /// the run ended before `from_step`).
    pub fn finish(self) -> Result<(PathBuf, isize)> {
        let mut text = String::new();
        let mut total = 0;
        if let Some(guard) = &self.guard {
            let report = guard
                .report()
                .build()
                .map_err(|e| Error::Backend(format!("RANKMAMBA_HOST_PROFILE: building the report: {e}")))?;
            let mut lines: Vec<(String, isize)> = report.data.iter().map(|(frames, &n)| (collapsed(frames), n)).collect();
            lines.sort();
            for (stack, n) in lines {
                total += n;
                let _ = writeln!(text, "{stack} {n}");
            }
        }
        crate::loader::write_atomic(&self.path, text.as_bytes())?;
        Ok((self.path, total))
    }
}

/// `thread;outermost;…;innermost` (pprof keeps the innermost frame first; inlined functions are
/// listed inside the frame that holds them). `;` and spaces inside names would break the format.
fn collapsed(frames: &pprof::Frames) -> String {
    let mut line = frames.thread_name_or_id().replace([';', ' '], "_");
    for frame in frames.frames.iter().rev() {
        for symbol in frame.iter().rev() {
            line.push(';');
            line.push_str(&symbol.name().replace(';', ",").replace(' ', ""));
        }
    }
    line
}
