//! The results page in a real browser: headless Chromium (Debian's `chromium` package,
//! `/usr/bin/chromium`; `.ci/run` installs it) opens a page rendered from hand-made records,
//! opens the failing cell's panel and reads its error, role and platform, filters the rows by
//! typing, ticks "only failures", and saves a screenshot to `target/results-page/page.png`;
//! then, with scripts off, checks every panel is still there and expands.
//! Without Chromium the test fails, saying what to install. `CHROMIUM=PATH` names another
//! binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use headless_chrome::browser::tab::point::Point;
use headless_chrome::protocol::cdp::Emulation;
use headless_chrome::protocol::cdp::Page::{CaptureScreenshotFormatOption, Viewport};
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::{json, Value};

use harmony::failure::{RoleFailure, RoleOutput, StepFailure};
use harmony::page::{Baseline, Page};
use harmony::report::{self, Record, Status};
use harmony::undefined::UndefinedStep;
use harmony_wire::nearest::Suggestion;
use harmony_wire::StepType;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The longest any one wait of this test may take.
const WAIT: Duration = Duration::from_secs(20);

fn record(combination: &str, scenario: &str, status: Status) -> Record {
    let platforms: Vec<&str> = match combination.split_once('_') {
        Some((a, b)) => vec![a, b],
        None => vec![combination, combination],
    };
    Record {
        status,
        seconds: 1.25,
        assignment: vec![
            ("reader".into(), platforms[0].into()),
            ("writer".into(), platforms[1].into()),
        ],
        ..Record::new(
            combination,
            &platforms.join("/"),
            "01-BasicCommunication",
            scenario,
        )
    }
}

const ONE: &str = "Test 1.1 - Simple Write-Read Cycle";
const TWO: &str = "Test 1.2 - Writer Fills the Buffer";
const THREE: &str = "Test 3.1 - Metadata Written Twice";
const FOUR: &str = "Test 4.3 - Windows Named Objects";
const FIVE: &str = "Test 5.1 - The Moon";
const STEP: &str = "the 'writer' process writes frame with size '1024'";
const ERROR: &str = "BufferFull: no space for a frame of 1024 bytes after 5000 ms";

/// One pass, one fail (role, platform, error, stderr tail, logs), one xfail with its reason,
/// skips, undefined steps with suggestions.
fn records() -> Vec<Record> {
    let mut fail = record("rust_python", TWO, Status::Fail);
    fail.detail = format!("Scenario failed: Execution failed: writer [python] {STEP:?}: {ERROR}");
    fail.failure = Some(StepFailure {
        step: STEP.into(),
        index: Some(3),
        roles: vec![RoleFailure::new("writer", "python", ERROR)],
    });
    fail.output = vec![RoleOutput {
        role: "writer".into(),
        platform: "python".into(),
        stderr_tail: "Traceback (most recent call last):\n  File \"serve.py\", line 88\n\
                      zerobuffer.BufferFullError: <no space>"
            .into(),
        logs: vec![
            format!("{STEP}:"),
            "  [Information] waiting for space".into(),
            "  [Error] gave up after 5000 ms".into(),
        ],
    }];
    let mut xfail = record("rust_python", THREE, Status::Xfail);
    xfail.detail = "the Python peer accepts metadata twice (upstream issue 12) — got: writer on \
                    python, step \"the 'writer' process writes metadata\", error \"no error\""
        .into();
    xfail.failure = Some(StepFailure {
        step: "the 'writer' process writes metadata again".into(),
        index: Some(4),
        roles: vec![RoleFailure::new(
            "writer",
            "python",
            "expected an error, got none",
        )],
    });
    let skip = |combination| {
        let mut skip = record(combination, FOUR, Status::Skip);
        skip.detail = "tagged @windows: this host is Linux".into();
        skip
    };
    let undefined = |combination| {
        let mut undefined = record(combination, FIVE, Status::Undefined);
        undefined.detail = "undefined step: \"the moon is made of cheese\"".into();
        undefined.undefined = vec![UndefinedStep {
            step: "the moon is made of cheese".into(),
            nearest: vec![Suggestion {
                text: "the buffer is made of frames".into(),
                kinds: vec![StepType::Given],
                distance: 2.0,
                similarity: 0.6,
            }],
        }];
        undefined
    };
    vec![
        record("rust", ONE, Status::Pass),
        record("rust_python", ONE, Status::Pass),
        record("rust", TWO, Status::Pass),
        fail,
        record("rust", THREE, Status::Pass),
        xfail,
        skip("rust"),
        skip("rust_python"),
        undefined("rust"),
        undefined("rust_python"),
    ]
}

/// An earlier run: Test 1.2 passed on rust_python (so it is a new failure now) and Test 1.1
/// failed there (a new pass now).
fn baseline(dir: &Path) -> Baseline {
    let mut earlier = records();
    for r in &mut earlier {
        if r.combination == "rust_python" && r.scenario == TWO {
            (r.status, r.failure, r.output) = (Status::Pass, None, Vec::new());
        }
        if r.combination == "rust_python" && r.scenario == ONE {
            r.status = Status::Fail;
        }
    }
    let path = dir.join("baseline-results.json");
    std::fs::write(&path, report::json(&earlier)).unwrap();
    Baseline::load(&path).unwrap()
}

fn launch(profile: &Path) -> Browser {
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    assert!(
        chromium.exists(),
        "{} is missing: this test needs headless Chromium; install Debian's `chromium` \
         package (apt-get install -y chromium; .ci/run does it)",
        chromium.display()
    );
    let args: Vec<&OsStr> = [
        "--disable-quic",
        "--disable-component-update",
        "--disable-background-networking",
        "--disable-sync",
        "--no-first-run",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(chromium.clone()))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.to_owned()))
        .window_size(Some((1280, 1800)))
        .idle_browser_timeout(Duration::from_secs(60))
        .args(args)
        .build()
        .expect("launch options");
    Browser::new(options).unwrap_or_else(|e| panic!("cannot start {}: {e:#}", chromium.display()))
}

fn eval(tab: &Tab, expression: &str) -> Value {
    let object = tab
        .evaluate(expression, false)
        .unwrap_or_else(|e| panic!("{expression}: {e:#}"));
    object.value.unwrap_or(Value::Null)
}

/// Waits (at most [`WAIT`]) until `expression` evaluates to `expected`.
fn wait_for(tab: &Tab, expression: &str, expected: Value) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = eval(tab, expression);
        if got == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {WAIT:?}, {expression} is {got}, not {expected}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The ids of the rows the page shows.
const SHOWN_ROWS: &str = "Array.from(document.querySelectorAll('#results tbody tr'))\
    .filter(r => !r.hidden && r.offsetParent !== null).map(r => r.id).join(',')";

#[test]
fn the_results_page_in_headless_chromium() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("results-page");
    std::fs::create_dir_all(&target).unwrap();
    let records = records();
    let baseline = baseline(&target);
    let html = harmony::page::render(&Page {
        title: "harmony rust rust_python (records made by tests/results_page.rs)",
        records: &records,
        baseline: Some(&baseline),
    });
    let page = target.join("index.html");
    std::fs::write(&page, &html).unwrap();

    let profile = tempfile::tempdir().unwrap();
    let browser = launch(profile.path());
    let tab = browser.new_tab().expect("a tab");
    tab.set_default_timeout(WAIT);
    let url = format!("file://{}", page.display());
    tab.navigate_to(&url)
        .and_then(|t| t.wait_until_navigated())
        .expect("the page loads");
    // The script ran: the controls show, every row is there.
    wait_for(
        &tab,
        "document.documentElement.classList.contains('js')",
        json!(true),
    );
    wait_for(&tab, SHOWN_ROWS, json!("row-0,row-1,row-2,row-3,row-4"));
    wait_for(
        &tab,
        "document.getElementById('shown').textContent",
        json!("5 of 5 scenarios shown"),
    );

    // The failing cell: a word, a change mark, a link to its closed panel.
    let cell = tab
        .wait_for_element("td.cell.st-fail")
        .expect("the failing cell");
    let text = cell.get_inner_text().unwrap();
    assert!(
        text.contains("fail") && text.contains("NEW FAILURE"),
        "{text:?}"
    );
    let id = "cell-3";
    wait_for(
        &tab,
        &format!("document.getElementById('{id}').open"),
        json!(false),
    );
    tab.wait_for_element("td.cell.st-fail a.cell-link")
        .and_then(|link| link.click().map(|_| ()))
        .expect("click the failing cell");
    wait_for(
        &tab,
        &format!("document.getElementById('{id}').open"),
        json!(true),
    );
    let panel = tab
        .wait_for_element(&format!("#{id}"))
        .expect("the failing cell's panel");
    assert!(panel.is_visible().unwrap(), "the panel is visible");
    let detail = panel.get_inner_text().unwrap();
    for expected in [
        STEP,
        ERROR,
        "writer\tpython",
        "writer on python: stderr (last lines)",
        "zerobuffer.BufferFullError: <no space>",
        "[Error] gave up after 5000 ms",
        "in the baseline",
    ] {
        assert!(detail.contains(expected), "{expected:?} not in {detail}");
    }

    // Typing in the filter box hides the rows it does not match (errors are searched too).
    tab.wait_for_element("#filter")
        .and_then(|filter| filter.click().map(|_| ()))
        .expect("focus the filter");
    tab.type_str("bufferfull").expect("type");
    wait_for(&tab, SHOWN_ROWS, json!("row-1"));
    wait_for(
        &tab,
        "document.getElementById('cell-5').offsetParent === null",
        json!(true),
    );
    eval(&tab, "f = document.getElementById('filter'); f.value = 'moon'; f.dispatchEvent(new Event('input')); 0");
    wait_for(&tab, SHOWN_ROWS, json!("row-4"));
    eval(&tab, "f.value = ''; f.dispatchEvent(new Event('input')); 0");
    wait_for(&tab, SHOWN_ROWS, json!("row-0,row-1,row-2,row-3,row-4"));

    // "only failures": the rows with a FAIL or UNDEFINED cell.
    tab.wait_for_element("#only-failures")
        .and_then(|only| only.click().map(|_| ()))
        .expect("tick only failures");
    wait_for(
        &tab,
        "document.getElementById('only-failures').checked",
        json!(true),
    );
    wait_for(&tab, SHOWN_ROWS, json!("row-1,row-4"));
    wait_for(
        &tab,
        "document.getElementById('shown').textContent",
        json!("2 of 5 scenarios shown"),
    );

    // The screenshot: the whole matrix and the failing cell's open panel.
    tab.wait_for_element("#only-failures")
        .and_then(|only| only.click().map(|_| ()))
        .expect("untick only failures");
    wait_for(&tab, SHOWN_ROWS, json!("row-0,row-1,row-2,row-3,row-4"));
    let height = eval(
        &tab,
        "Math.min(Math.ceil(document.body.getBoundingClientRect().bottom) + 24, window.innerHeight)",
    )
    .as_f64()
    .expect("a height");
    eval(&tab, "window.scrollTo(0, 0); 0");
    let png = tab
        .capture_screenshot(
            CaptureScreenshotFormatOption::Png,
            None,
            Some(Viewport {
                x: 0.0,
                y: 0.0,
                width: 1280.0,
                height,
                scale: 1.0,
            }),
            true,
        )
        .expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let shot = target.join("page.png");
    std::fs::write(&shot, png).unwrap();

    // Scripts off: no controls, and every panel is still there and expands.
    let plain = browser.new_tab().expect("a second tab");
    plain.set_default_timeout(WAIT);
    plain
        .call_method(Emulation::SetScriptExecutionDisabled { value: true })
        .expect("scripts off");
    plain
        .navigate_to(&url)
        .and_then(|t| t.wait_until_navigated())
        .expect("the page loads");
    wait_for(
        &plain,
        "document.documentElement.classList.contains('js')",
        json!(false),
    );
    wait_for(
        &plain,
        "getComputedStyle(document.querySelector('.controls')).display",
        json!("none"),
    );
    wait_for(
        &plain,
        "document.querySelectorAll('details.detail').length",
        json!(7),
    );
    // A real mouse click (finding elements the usual way runs script, which is off).
    let at = eval(
        &plain,
        "r = document.querySelector('#cell-3 summary').getBoundingClientRect(); \
         JSON.stringify([r.left + 20, r.top + r.height / 2])",
    );
    let at: Vec<f64> = serde_json::from_str(at.as_str().expect("a point")).expect("a point");
    let point = Point { x: at[0], y: at[1] };
    plain
        .click_point(point)
        .expect("expand the failing cell's panel");
    wait_for(
        &plain,
        "document.getElementById('cell-3').open",
        json!(true),
    );
    println!("page: {}\nscreenshot: {}", page.display(), shot.display());
}
