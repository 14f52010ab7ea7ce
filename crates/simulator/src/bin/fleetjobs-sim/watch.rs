//! `fleetjobs-sim watch`: a job's progress as the control plane reports it.
//!
//! Polls `GET {api}/api/v1/jobs/{job}` and draws one bar per execution status
//! from `jobProcessDetails`. On a terminal the bars are redrawn in place; into
//! a pipe or a file each changed frame is printed once, without escape codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Width of a bar, in characters.
const BAR_WIDTH: u64 = 40;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base URL of the control plane.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    api: String,
    /// API token, sent as `Authorization: Bearer TOKEN`.
    #[arg(long, env = "FLEETJOBS_API_TOKEN")]
    token: String,
    /// The job to watch.
    #[arg(long)]
    job: String,
    /// Milliseconds between two polls.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
    /// Scale the bars to this many things (default: the sum of the counters).
    #[arg(long)]
    total: Option<u64>,
    /// Give up (exit code 1) when the job has not ended after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

/// Each status with its `jobProcessDetails` counter, in the order drawn.
const COUNTERS: [(&str, &str); 8] = [
    ("QUEUED", "numberOfQueuedThings"),
    ("IN_PROGRESS", "numberOfInProgressThings"),
    ("SUCCEEDED", "numberOfSucceededThings"),
    ("FAILED", "numberOfFailedThings"),
    ("REJECTED", "numberOfRejectedThings"),
    ("TIMED_OUT", "numberOfTimedOutThings"),
    ("CANCELED", "numberOfCanceledThings"),
    ("REMOVED", "numberOfRemovedThings"),
];

/// What the control plane says about the job.
#[derive(Debug, Clone, PartialEq)]
struct JobState {
    status: String,
    /// Executions per status, in the order of [`COUNTERS`].
    counts: [u64; COUNTERS.len()],
    reason_code: Option<String>,
    comment: Option<String>,
}

impl JobState {
    fn parse(body: &Value) -> Result<JobState, String> {
        let status = body
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no job status in {body}"))?;
        let details = body
            .get("jobProcessDetails")
            .ok_or_else(|| format!("no jobProcessDetails in {body}"))?;
        let mut counts = [0; COUNTERS.len()];
        for (count, (_, field)) in counts.iter_mut().zip(COUNTERS) {
            // A counter the service leaves out counts none.
            *count = details.get(field).and_then(Value::as_u64).unwrap_or(0);
        }
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(JobState {
            status: status.to_owned(),
            counts,
            reason_code: text("reasonCode"),
            comment: text("comment"),
        })
    }

    fn is_over(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETED" | "CANCELED")
    }

    /// The bars: a header, then one line per status.
    fn frame(&self, job: &str, total: Option<u64>) -> Vec<String> {
        let total = total.unwrap_or(self.counts.iter().sum());
        let mut lines = vec![format!("job {job}  {}  ({total} things)", self.status)];
        for ((label, _), count) in COUNTERS.iter().zip(self.counts) {
            lines.push(format!("{label:<12} {}  {count}", bar(count, total)));
        }
        lines
    }

    /// The final word: status, counts, and why the job ended if the service said.
    fn summary(&self, job: &str) -> Vec<String> {
        let mut lines = vec![format!("job {job} {}", self.status)];
        for ((label, _), count) in COUNTERS.iter().zip(self.counts) {
            lines.push(format!("  {label:<12} {count}"));
        }
        if let Some(code) = &self.reason_code {
            lines.push(format!("reasonCode: {code}"));
        }
        if let Some(comment) = &self.comment {
            lines.push(format!("comment: {comment}"));
        }
        lines
    }
}

/// `count` of `total` as a bar of [`BAR_WIDTH`] characters.
fn bar(count: u64, total: u64) -> String {
    let filled = match total {
        0 => 0,
        // Rounded, and never past the end when a count exceeds --total.
        _ => ((count * BAR_WIDTH + total / 2) / total).min(BAR_WIDTH),
    } as usize;
    format!(
        "{}{}",
        "█".repeat(filled),
        "░".repeat(BAR_WIDTH as usize - filled)
    )
}

/// Where frames go: redrawn in place on a terminal, appended when changed elsewhere.
struct Screen {
    in_place: bool,
    /// Lines of the frame on screen that the next one overwrites.
    drawn: usize,
    last: Vec<String>,
}

impl Screen {
    fn draw(&mut self, lines: Vec<String>) {
        if !self.in_place && lines == self.last {
            return;
        }
        let mut out = std::io::stdout().lock();
        if self.in_place && self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        for line in &lines {
            let clear = if self.in_place { "\x1b[2K" } else { "" };
            let _ = writeln!(out, "{clear}{line}");
        }
        let _ = out.flush();
        self.drawn = lines.len();
        self.last = lines;
    }

    /// Something else was written: the next frame goes below it.
    fn interrupted(&mut self) {
        self.drawn = 0;
    }
}

/// Why a poll did not give the job's state.
enum PollError {
    /// Polling again cannot help (bad token, unknown job, ...).
    Fatal(String),
    /// The service may answer next time.
    Transient(String),
}

fn poll(agent: &ureq::Agent, url: &str, token: &str) -> Result<JobState, PollError> {
    let transient = |e: ureq::Error| PollError::Transient(e.to_string());
    let mut response = agent
        .get(url)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .map_err(transient)?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().map_err(transient)?;
    match status {
        200 => {}
        408 | 429 | 500.. => return Err(PollError::Transient(format!("HTTP {status}: {body}"))),
        _ => return Err(PollError::Fatal(format!("HTTP {status}: {body}"))),
    }
    let body: Value = serde_json::from_str(&body)
        .map_err(|e| PollError::Transient(format!("not JSON ({e}): {body}")))?;
    JobState::parse(&body).map_err(PollError::Transient)
}

fn print_lines(lines: &[String]) {
    for line in lines {
        println!("{line}");
    }
}

pub fn watch(args: Args) -> ExitCode {
    let url = format!(
        "{}/api/v1/jobs/{}",
        args.api.trim_end_matches('/'),
        args.job
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        // Error statuses are answers too: their bodies say what is wrong.
        .http_status_as_error(false)
        .build()
        .into();
    let interval = Duration::from_millis(args.interval_ms);
    let timeout = Duration::from_secs(args.timeout_secs);
    let deadline = Instant::now() + timeout;
    let mut screen = Screen {
        in_place: std::io::stdout().is_terminal(),
        drawn: 0,
        last: Vec::new(),
    };
    let mut last_state = None;
    let mut last_problem = None;
    loop {
        match poll(&agent, &url, &args.token) {
            Ok(state) => {
                screen.draw(state.frame(&args.job, args.total));
                if state.is_over() {
                    print_lines(&state.summary(&args.job));
                    return ExitCode::SUCCESS;
                }
                last_state = Some(state);
                last_problem = None;
            }
            Err(PollError::Fatal(problem)) => {
                eprintln!("fleetjobs-sim watch: {url}: {problem}");
                return ExitCode::from(2);
            }
            Err(PollError::Transient(problem)) => {
                // Said once, not at every poll, while the problem lasts.
                if last_problem.as_ref() != Some(&problem) {
                    eprintln!("fleetjobs-sim watch: {url}: {problem}");
                    screen.interrupted();
                    last_problem = Some(problem);
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            if let Some(state) = &last_state {
                print_lines(&state.summary(&args.job));
            }
            eprintln!(
                "fleetjobs-sim watch: job {} has not ended after {timeout:?}",
                args.job
            );
            return ExitCode::FAILURE;
        }
        std::thread::sleep(interval.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_job_and_draws_bars() {
        let body = json!({
            "jobId": "j1",
            "status": "CANCELED",
            "jobProcessDetails": {
                "numberOfQueuedThings": 1,
                "numberOfSucceededThings": 2,
                "numberOfCanceledThings": 1,
            },
            "reasonCode": "OPERATOR",
            "comment": "stop it",
        });
        let state = JobState::parse(&body).unwrap();
        assert_eq!(state.counts, [1, 0, 2, 0, 0, 0, 1, 0]);
        assert!(state.is_over());
        let frame = state.frame("j1", None);
        assert_eq!(frame[0], "job j1  CANCELED  (4 things)");
        assert_eq!(
            frame[3],
            format!("SUCCEEDED    {}{}  2", "█".repeat(20), "░".repeat(20))
        );
        assert_eq!(frame.len(), 1 + COUNTERS.len());
        let summary = state.summary("j1");
        assert!(summary.contains(&"  SUCCEEDED    2".to_owned()));
        assert_eq!(
            summary[summary.len() - 2..],
            ["reasonCode: OPERATOR", "comment: stop it"]
        );

        assert!(JobState::parse(&json!({ "status": "IN_PROGRESS" })).is_err());
        assert!(JobState::parse(&json!({ "jobProcessDetails": {} })).is_err());
    }

    #[test]
    fn bars_are_scaled_and_bounded() {
        let filled = |count, total| bar(count, total).chars().filter(|&c| c == '█').count();
        assert_eq!(filled(0, 0), 0);
        assert_eq!(filled(412, 1000), 16); // 16.48
        assert_eq!(filled(1, 3), 13); // 13.33
        assert_eq!(filled(2, 3), 27); // 26.67
        assert_eq!(filled(5, 3), 40);
        assert_eq!(bar(1, 2).chars().count(), BAR_WIDTH as usize);
    }
}
