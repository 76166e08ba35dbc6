//! `sentinel scan`: read records in chunks, scan each chunk on every core, write in order.
//!
//! Memory stays flat whatever the input size: at most one chunk of records (bounded in count
//! and in bytes) and its outputs are held at a time.

use crate::args::{Format, ScanArgs};
use crate::output::{self, Totals};
use crate::{report, settings, EXIT_BLOCKED, EXIT_ERROR, EXIT_OK};
use mcp_threatscan::input::{RawRecord, Records};
use mcp_threatscan::{Engine, EventError, Scratch};
use rayon::prelude::*;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// Most records scanned as one parallel batch.
const CHUNK_RECORDS: usize = 1_024;
/// Most record bytes held in one batch (a batch always takes at least one record).
const CHUNK_BYTES: usize = 32 << 20;
/// Read buffer per input file.
const READ_BUFFER: usize = 256 << 10;

/// Runs `sentinel scan` and returns the exit code.
pub(crate) fn run(args: &ScanArgs) -> u8 {
    let Some(engine) = settings::engine_or_report(&args.engine) else { return EXIT_ERROR };
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(args.jobs.map_or(0, NonZeroUsize::get)).build() {
        Ok(pool) => pool,
        Err(e) => {
            report(format_args!("cannot start the worker threads: {e}"));
            return EXIT_ERROR;
        }
    };
    let format = args.format.unwrap_or(if io::stdout().is_terminal() { Format::Human } else { Format::Ndjson });
    let stdin = Path::new("-");
    let inputs: Vec<&Path> =
        if args.files.is_empty() { vec![stdin] } else { args.files.iter().map(|p| p.as_path()).collect() };
    let show_file = inputs.len() > 1;

    let stdout = io::stdout();
    let mut scan = Scan {
        scratches: Scratches { engine: engine.clone(), free: Mutex::new(Vec::new()) },
        engine,
        pool,
        format,
        out: BufWriter::with_capacity(64 << 10, stdout.lock()),
        totals: Totals::default(),
        next_index: 0,
        input_error: false,
    };
    for path in inputs {
        let name = if path == stdin { "<stdin>".to_string() } else { path.display().to_string() };
        let reader: Box<dyn BufRead> = if path == stdin {
            Box::new(io::stdin().lock())
        } else {
            match File::open(path) {
                Ok(file) => Box::new(BufReader::with_capacity(READ_BUFFER, file)),
                Err(e) => {
                    report(format_args!("cannot open {name}: {e}"));
                    scan.input_error = true;
                    continue;
                }
            }
        };
        if let Err(stop) = scan.input(Records::new(reader), show_file.then_some(name.as_str())) {
            return scan.stopped(stop);
        }
    }
    if format == Format::Human {
        let totals = scan.totals.line();
        if let Err(e) = scan.out.write_all(totals.as_bytes()) {
            return scan.stopped(e);
        }
    }
    if let Err(e) = scan.out.flush() {
        return scan.stopped(e);
    }
    scan.exit_code()
}

/// The state of one `sentinel scan` run.
struct Scan<'o> {
    engine: Engine,
    scratches: Scratches,
    pool: rayon::ThreadPool,
    format: Format,
    out: BufWriter<io::StdoutLock<'o>>,
    totals: Totals,
    /// The global index of the next record, across inputs.
    next_index: usize,
    /// An input could not be opened.
    input_error: bool,
}

/// One record to scan, with its global index.
struct Work {
    index: usize,
    item: Result<RawRecord, EventError>,
}

/// What scanning one record gave: its action (for the totals) and its output text.
struct Outcome {
    action: mcp_threatscan::Action,
    unreadable: bool,
    text: Vec<u8>,
}

impl Scan<'_> {
    /// Scans one input, chunk by chunk: while the workers scan one chunk, this thread reads
    /// the next.
    fn input<R: BufRead>(&mut self, mut records: Records<R>, file: Option<&str>) -> io::Result<()> {
        let mut chunk = read_chunk(&mut records, &mut self.next_index);
        while !chunk.is_empty() {
            let (engine, scratches, format) = (&self.engine, &self.scratches, self.format);
            let next_index = &mut self.next_index;
            let mut outcomes = Vec::new();
            let mut next = Vec::new();
            self.pool.in_place_scope(|scope| {
                scope.spawn(|_| {
                    outcomes = chunk
                        .into_par_iter()
                        .map_init(|| scratches.lease(), |lease, work| process(engine, lease.get(), format, file, work))
                        .collect();
                });
                next = read_chunk(&mut records, next_index);
            });
            for outcome in outcomes {
                if outcome.unreadable {
                    self.totals.unreadable += 1;
                } else {
                    self.totals.add(outcome.action);
                }
                self.out.write_all(&outcome.text)?;
            }
            // Results of a slow stream (a pipe) show up chunk by chunk.
            self.out.flush()?;
            chunk = next;
        }
        Ok(())
    }

    /// The exit code for what was seen so far.
    fn exit_code(&self) -> u8 {
        if self.input_error || self.totals.unreadable > 0 {
            EXIT_ERROR
        } else if self.totals.blocked > 0 {
            EXIT_BLOCKED
        } else {
            EXIT_OK
        }
    }

    /// Ends the run after an output error: quietly when the reader went away (a closed pipe),
    /// with a message otherwise.
    fn stopped(&self, e: io::Error) -> u8 {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return self.exit_code();
        }
        report(format_args!("cannot write the output: {e}"));
        EXIT_ERROR
    }
}

/// Reads the next chunk: up to [`CHUNK_RECORDS`] records and about [`CHUNK_BYTES`] bytes.
fn read_chunk<R: BufRead>(records: &mut Records<R>, next_index: &mut usize) -> Vec<Work> {
    let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
    let mut bytes = 0;
    while chunk.len() < CHUNK_RECORDS && bytes < CHUNK_BYTES {
        let Some(item) = records.next() else { break };
        bytes += item.as_ref().map_or(0, |r| r.bytes.len());
        chunk.push(Work { index: *next_index, item });
        *next_index += 1;
    }
    chunk
}

/// Parses and scans one record and formats its output.
fn process(engine: &Engine, scratch: &mut Scratch, format: Format, file: Option<&str>, work: Work) -> Outcome {
    let parsed = work.item.and_then(|record| record.parse().map(|event| (record.line, event)));
    let mut text = Vec::new();
    match parsed {
        Ok((line, event)) => {
            let verdict = engine.scan_with(scratch, &event);
            match format {
                Format::Ndjson => {
                    write_or_note(&mut text, |t| output::ndjson_verdict(t, work.index, file, line, verdict))
                }
                Format::Human => {
                    let mut s = String::new();
                    output::human_verdict(&mut s, work.index, file, line, verdict);
                    text = s.into_bytes();
                }
            }
            Outcome { action: verdict.action, unreadable: false, text }
        }
        Err(error) => {
            let error = error.with_index(work.index);
            let verdict = engine.error_verdict(&error);
            match format {
                Format::Ndjson => {
                    write_or_note(&mut text, |t| output::ndjson_error(t, work.index, file, &error, &verdict))
                }
                Format::Human => {
                    let mut s = String::new();
                    output::human_error(&mut s, work.index, file, &error, &verdict, engine.config().fail_mode);
                    text = s.into_bytes();
                }
            }
            Outcome { action: verdict.action, unreadable: true, text }
        }
    }
}

/// Runs a serialiser into `text`; should it ever fail, reports it instead of losing the event.
fn write_or_note(text: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) {
    if let Err(e) = write(text) {
        text.clear();
        report(format_args!("cannot serialise a verdict: {e}"));
    }
}

/// Scratches shared by the workers: each worker leases one per batch and gives it back, so a
/// scratch stays warm across batches.
struct Scratches {
    engine: Engine,
    free: Mutex<Vec<Scratch>>,
}

impl Scratches {
    fn lease(&self) -> Lease<'_> {
        let scratch = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop();
        Lease { pool: self, scratch }
    }
}

/// A scratch on loan from [`Scratches`]; returned when dropped.
struct Lease<'a> {
    pool: &'a Scratches,
    scratch: Option<Scratch>,
}

impl Lease<'_> {
    fn get(&mut self) -> &mut Scratch {
        let engine = &self.pool.engine;
        self.scratch.get_or_insert_with(|| engine.create_scratch())
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(scratch) = self.scratch.take() {
            self.pool.free.lock().unwrap_or_else(PoisonError::into_inner).push(scratch);
        }
    }
}
