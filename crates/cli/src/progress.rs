//! Apply progress: an indicatif bar per region wave with the resources in flight on a terminal,
//! plain lines otherwise.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use console::style;
use indicatif::{ProgressBar, ProgressStyle};
use tandem_engine::{Event, Observer, Outcome};

pub struct Progress {
    terminal: bool,
    inner: Mutex<Inner>,
}

struct Inner {
    bar: Option<ProgressBar>,
    in_flight: BTreeSet<String>,
    wave: String,
    started: Instant,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            terminal: console::Term::stdout().is_term(),
            inner: Mutex::new(Inner {
                bar: None,
                in_flight: BTreeSet::new(),
                wave: String::new(),
                started: Instant::now(),
            }),
        }
    }

    fn line(&self, inner: &Inner, text: String) {
        match &inner.bar {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }
}

fn in_flight_message(set: &BTreeSet<String>) -> String {
    let mut names: Vec<&str> = set.iter().map(String::as_str).take(3).collect();
    let more = set.len().saturating_sub(3);
    let extra = if more > 0 {
        format!(" +{more}")
    } else {
        String::new()
    };
    if names.is_empty() {
        names.push("…");
    }
    format!("{}{extra}", names.join(", "))
}

impl Observer for Progress {
    fn on_event(&self, event: &Event) {
        let mut inner = self.inner.lock().expect("progress lock");
        match event {
            Event::WaveStarted { wave, steps } => {
                inner.wave = wave.clone();
                inner.started = Instant::now();
                inner.in_flight.clear();
                if self.terminal {
                    let bar = ProgressBar::new(*steps as u64);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:.cyan.bold} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(wave.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    inner.bar = Some(bar);
                } else {
                    println!("[{wave}] wave started: {steps} steps");
                }
            }
            Event::StepStarted { addr, action } => {
                inner.in_flight.insert(addr.to_string());
                if let Some(bar) = &inner.bar {
                    bar.set_message(in_flight_message(&inner.in_flight));
                } else {
                    println!("[{}] {} {addr} …", inner.wave, action.name());
                }
            }
            Event::StepFinished {
                addr,
                action,
                outcome,
            } => {
                inner.in_flight.remove(addr.as_str());
                let text = match outcome {
                    Outcome::Done => format!("{} {} {addr}", style("✓").green(), action.name()),
                    Outcome::Failed(e) => {
                        format!("{} {} {addr}: {e}", style("✗").red(), action.name())
                    }
                    Outcome::Skipped(why) => {
                        format!("{} {} {addr}: {why}", style("-").yellow(), action.name())
                    }
                };
                if let Some(bar) = &inner.bar {
                    bar.inc(1);
                    bar.set_message(in_flight_message(&inner.in_flight));
                    if !matches!(outcome, Outcome::Done) {
                        bar.println(format!("  {text}"));
                    }
                } else {
                    println!("[{}] {text}", inner.wave);
                }
            }
            Event::WaveFinished { wave, failed } => {
                let took = inner.started.elapsed();
                let text = if *failed == 0 {
                    format!(
                        "{} wave {wave} done in {:.1}s",
                        style("✓").green(),
                        took.as_secs_f64()
                    )
                } else {
                    format!("{} wave {wave}: {failed} step(s) failed", style("✗").red())
                };
                if let Some(bar) = inner.bar.take() {
                    bar.finish_and_clear();
                }
                self.line(&inner, text);
            }
            Event::Stopped { not_started } => {
                let text = format!(
                    "{} stopped before wave(s) {}: an earlier wave failed",
                    style("!").red().bold(),
                    not_started.join(", ")
                );
                self.line(&inner, text);
            }
        }
    }
}
