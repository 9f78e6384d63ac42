//! `render -o` to FLAC, Ogg Opus and MP3 through the real binary, each file
//! read back with ffprobe and decoded with ffmpeg against the WAV render of
//! the same session: its chapters and tags, its length and onsets, and the
//! edges (names it cannot honour, a full disk, Ctrl-C, an old file's
//! permissions). It does not test the encoders' sound quality beyond that.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Sandbox, names, onsets, rendering};

/// The session's rate: every format is written at it.
const RATE: f64 = 48_000.0;

/// ffprobe's view of a file: streams, format and chapters, as JSON.
fn probe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_chapters", "-show_format", "-show_streams", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe is installed (bash .ci/setup)");
    assert!(out.status.success(), "ffprobe {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A tag of the file or of its first stream, whatever the case of its key
/// (Vorbis comments keep theirs, ID3 frames are named by ffmpeg).
fn tag(probe: &Value, key: &str) -> Option<String> {
    [&probe["format"]["tags"], &probe["streams"][0]["tags"]]
        .into_iter()
        .filter_map(Value::as_object)
        .flat_map(|tags| tags.iter())
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str().unwrap().to_string())
}

/// The chapters ffprobe reads, as (title, start, end) in milliseconds.
fn chapters(probe: &Value) -> Vec<(String, f64, f64)> {
    let seconds = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap() * 1000.0;
    probe["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let title = c["tags"]["title"].as_str().unwrap_or("(no title)").to_string();
            (title, seconds(&c["start_time"]), seconds(&c["end_time"]))
        })
        .collect()
}

/// The file decoded by ffmpeg: interleaved stereo 16-bit at 48 kHz.
fn decode(path: &Path) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg is installed (bash .ci/setup)");
    assert!(out.status.success(), "ffmpeg {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    out.stdout.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

/// A WAV as `render` writes it (a 44-byte header), interleaved.
fn wav_pcm(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap();
    bytes[44..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

fn mono(stereo: &[i16]) -> Vec<i16> {
    stereo.chunks_exact(2).map(|f| ((f[0] as i32 + f[1] as i32) / 2) as i16).collect()
}

/// Every onset of the WAV is in the other within 10 ms, and nothing more.
#[track_caller]
fn assert_same_onsets(wav: &[i16], other: &[i16], what: &str) {
    let (a, b) = (onsets(&mono(wav)), onsets(&mono(other)));
    assert!(a.len() > 10, "the session has onsets to compare: {a:?}");
    assert_eq!(a.len(), b.len(), "{what}: onsets\n wav {a:?}\n got {b:?}");
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 0.010, "{what}: an onset at {x:.3} s is at {y:.3} s");
    }
}

/// The chapters the contract gives for a timeline (`show --json`), as
/// (title, start in ms), worked out here from the events alone. `points`
/// names the round's `Sides` steps in order, when there are several.
fn expected_chapters(show: &Value, points: &[&str]) -> Vec<(String, f64)> {
    let rounds = show["rounds"].as_u64().unwrap() > 1;
    let steps: Vec<&Value> = show["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["overlay"].as_bool().unwrap() && e["length_samples"].as_u64().unwrap() > 0)
        .collect();
    let place = |e: &Value| (e["part"].as_str().unwrap().to_string(), e["round"].as_u64().unwrap());
    fn side(e: &Value) -> Option<&str> {
        e.get("side").and_then(Value::as_str)
    }
    // Which `Sides` of its round each step is in, from 1 (0: none); a left
    // side after anything but itself begins the next.
    let mut groups = vec![0; steps.len()];
    let (mut group, mut prev) = (0, None);
    for (i, e) in steps.iter().enumerate() {
        if i > 0 && place(steps[i - 1]) != place(e) {
            (group, prev) = (0, None);
        }
        if side(e).is_some() && side(e) != prev {
            group += usize::from(side(e) == Some("left"));
        }
        if side(e).is_some() {
            groups[i] = group;
        }
        prev = side(e);
    }
    // The rest and the spoken marker that open a round after the first
    // (before any of its other steps) are the round's own chapter.
    let kind = |e: &Value| e["kind"].as_str().unwrap().to_string();
    let marker: Vec<bool> = (0..steps.len())
        .map(|i| {
            let e = steps[i];
            let before = steps[..i].iter().rev().take_while(|b| place(b) == place(e));
            let only_rests = before.clone().all(|b| kind(b) == "rest");
            let (part, round) = place(e);
            part == "round" && round > 1 && side(e).is_none() && (kind(e) == "rest" || kind(e) == "say" && only_rests)
        })
        .collect();
    // Time in a round outside a side introduces the round's next `Sides`.
    let mut next = vec![0; steps.len()];
    let mut ahead = 0;
    for i in (0..steps.len()).rev() {
        if marker[i] {
            continue;
        }
        if groups[i] > 0 {
            ahead = groups[i];
        } else if steps.get(i + 1).is_none_or(|n| place(n) != place(steps[i])) {
            ahead = 0;
        }
        next[i] = ahead;
    }

    let mut out: Vec<(String, f64)> = Vec::new();
    // The side's first hold and first strokes begin chapters of their own.
    let (mut held, mut stroked, mut suffix, mut prev) = (false, false, "", None);
    for (i, e) in steps.iter().enumerate() {
        let (part, round) = place(e);
        if side(e).is_some() && side(e) != prev {
            (held, stroked, suffix) = (false, false, "");
        }
        prev = side(e);
        match (e["kind"].as_str().unwrap(), side(e)) {
            ("hold", Some(_)) if !held => (held, suffix) = (true, " — hold"),
            ("strokes", Some(_)) if !stroked => (stroked, suffix) = (true, " — strokes"),
            _ => {}
        }
        let named = points.len() > 1;
        let in_round = |title: String| if rounds { format!("Round {round}: {title}") } else { title };
        let title = match (part.as_str(), side(e)) {
            ("opening", _) => "Opening".to_string(),
            ("closing", _) => "Closing".to_string(),
            (_, None) if marker[i] => format!("Round {round}"),
            (_, None) if named && next[i] > 0 => in_round(points[next[i] - 1].to_string()),
            (_, None) => format!("Round {round}"),
            (_, Some(side)) if named => in_round(format!("{}, {side} side{suffix}", points[groups[i] - 1])),
            (_, Some(side)) => in_round(format!("{}{} side{suffix}", side[..1].to_uppercase(), &side[1..])),
        };
        if out.last().is_none_or(|(last, _)| *last != title) {
            out.push((title, e["start_sample"].as_u64().unwrap() as f64 * 1000.0 / RATE));
        }
    }
    out
}

/// The file's chapters are `titles`, each starting within 1 ms of where the
/// timeline puts it and ending where the next starts (the last at the end).
#[track_caller]
fn check_chapters(path: &Path, show: &Value, points: &[&str], titles: &[&str]) {
    let expected = expected_chapters(show, points);
    let expected_titles: Vec<&str> = expected.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(expected_titles, titles, "the test's own reading of the timeline");
    // `show --json` lists the same chapters.
    let shown: Vec<(&str, f64)> = show["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["title"].as_str().unwrap(), c["start_sample"].as_u64().unwrap() as f64 * 1000.0 / RATE))
        .collect();
    let expected_ref: Vec<(&str, f64)> = expected.iter().map(|(t, s)| (t.as_str(), *s)).collect();
    assert_eq!(shown, expected_ref, "show --json");
    let got = chapters(&probe(path));
    let got_titles: Vec<&str> = got.iter().map(|(t, ..)| t.as_str()).collect();
    assert_eq!(got_titles, titles, "{}", path.display());
    // Ogg has no end for the last chapter: ffprobe ends it at the stream's
    // duration, which for Opus counts the pre-skip too.
    let pre_skip = opus_pre_skip(&std::fs::read(path).unwrap()).unwrap_or(0);
    let total = show["total_samples"].as_u64().unwrap() as f64 * 1000.0 / RATE;
    let last_end = total + f64::from(pre_skip) * 1000.0 / RATE;
    for (i, ((title, start, end), (_, want))) in got.iter().zip(&expected).enumerate() {
        let want_end = expected.get(i + 1).map_or(last_end, |(_, s)| *s);
        assert!((start - want).abs() <= 1.0, "{}: {title} starts at {start} ms, not {want:.1}", path.display());
        assert!((end - want_end).abs() <= 1.0, "{}: {title} ends at {end} ms, not {want_end:.1}", path.display());
    }
}

/// An Ogg Opus file's pre-skip, from the OpusHead in its first page.
fn opus_pre_skip(bytes: &[u8]) -> Option<u16> {
    let head = bytes.get(..100)?.windows(8).position(|w| w == b"OpusHead")?;
    Some(u16::from_le_bytes([bytes[head + 10], bytes[head + 11]]))
}

/// What an ID3v2 tag says of chapters: its top-level table of contents
/// (CTOC) as (ordered, the entry count it gives), and how many CHAP frames
/// it holds.
fn id3_chapters(bytes: &[u8]) -> (Option<(bool, usize)>, usize) {
    assert_eq!(&bytes[..3], b"ID3", "an ID3v2 tag first");
    let version = bytes[3];
    let syncsafe = |b: &[u8]| b.iter().fold(0usize, |n, &x| (n << 7) | x as usize);
    let end = 10 + syncsafe(&bytes[6..10]);
    let (mut toc, mut chaps, mut at) = (None, 0, 10);
    while at + 10 <= end && bytes[at] != 0 {
        let size = match version {
            4 => syncsafe(&bytes[at + 4..at + 8]),
            _ => bytes[at + 4..at + 8].iter().fold(0usize, |n, &x| (n << 8) | x as usize),
        };
        let body = &bytes[at + 10..at + 10 + size];
        match &bytes[at..at + 4] {
            b"CHAP" => chaps += 1,
            b"CTOC" => {
                let id_end = body.iter().position(|&b| b == 0).unwrap();
                let (flags, count) = (body[id_end + 1], body[id_end + 2] as usize);
                if flags & 2 != 0 {
                    toc = Some((flags & 1 != 0, count));
                }
            }
            _ => {}
        }
        at += 10 + size;
    }
    (toc, chaps)
}

/// The bytes of the first MPEG frame after the ID3v2 tag.
fn first_mp3_frame(bytes: &[u8]) -> &[u8] {
    let syncsafe = |b: &[u8]| b.iter().fold(0usize, |n, &x| (n << 7) | x as usize);
    let start = if &bytes[..3] == b"ID3" { 10 + syncsafe(&bytes[6..10]) } else { 0 };
    let start = start + bytes[start..].iter().position(|&b| b == 0xff).unwrap();
    &bytes[start..start + 400]
}

#[test]
fn each_format_is_the_wav_session_with_its_chapters() {
    let sb = Sandbox::new();
    let run = sb.run(&["render", "gluteus-medius", "-o", "g.wav"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // "wrote g.wav (02:40, 30.9 MB)": the length is the same for every format.
    let length = run.stdout.split_once('(').unwrap().1.split_once(',').unwrap().0.to_string();
    let show: Value = serde_json::from_str(&sb.run(&["show", "gluteus-medius", "--json"]).stdout).unwrap();
    assert!(!show["estimated"].as_bool().unwrap(), "the speech is cached: exact times");
    let wav = wav_pcm(&sb.path().join("g.wav"));
    assert_eq!(wav.len() as u64, 2 * show["total_samples"].as_u64().unwrap());
    let titles = ["Opening", "Left side", "Left side — strokes", "Right side", "Right side — strokes", "Closing"];

    for (ext, codec) in [("flac", "flac"), ("opus", "opus"), ("mp3", "mp3")] {
        let name = format!("g.{ext}");
        let path = sb.path().join(&name);
        let run = sb.run(&["render", "gluteus-medius", "-o", &name]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let size = std::fs::metadata(&path).unwrap().len();
        let size = match size {
            b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
            b => format!("{} kB", b.div_ceil(1000)),
        };
        assert_eq!(run.stdout, format!("wrote {name} ({length}, {size}, {} chapters)\n", titles.len()));

        let p = probe(&path);
        let stream = &p["streams"][0];
        assert_eq!(stream["codec_name"], codec, "{name}");
        assert_eq!(stream["sample_rate"], "48000", "{name}");
        assert_eq!(stream["channels"], 2, "{name}");
        assert_eq!(tag(&p, "title").as_deref(), Some("Gluteus medius"), "{name}: {p:#}");
        if ext != "mp3" {
            assert!(tag(&p, "encoder").is_some_and(|e| !e.is_empty()), "{name}: {p:#}");
        }
        check_chapters(&path, &show, &[], &titles);

        let decoded = decode(&path);
        if ext == "flac" {
            assert_eq!(stream["bits_per_raw_sample"], "16", "{name}");
            assert_eq!(decoded.len(), wav.len(), "{name}: every sample");
            assert!(decoded == wav, "{name}: lossless, so the WAV's samples exactly");
            // STREAMINFO's MD5 of the audio, which `flac -t` and players check.
            let flac = std::fs::read(&path).unwrap();
            let md5: String = flac[26..42].iter().map(|b| format!("{b:02x}")).collect();
            let wav_path = sb.path().join("g.wav");
            let sum = Command::new("sh").arg("-c").arg("tail -c +45 \"$0\" | md5sum").arg(&wav_path).output().unwrap();
            assert_eq!(md5, String::from_utf8_lossy(&sum.stdout)[..32], "{name}: the MD5 of the samples");
        } else {
            let off = (decoded.len() as f64 - wav.len() as f64) / 2.0 / RATE;
            assert!(off.abs() <= 0.025, "{name}: {off:+.4} s longer than the WAV");
        }
        assert_same_onsets(&wav, &decoded, &name);
    }

    // The MP3's chapters are listed by a top-level, ordered table of
    // contents too, and its first frame carries the LAME tag that tells a
    // decoder the encoder's delay and padding.
    let mp3 = std::fs::read(sb.path().join("g.mp3")).unwrap();
    assert_eq!(id3_chapters(&mp3), (Some((true, titles.len())), titles.len()), "a CTOC naming every CHAP");
    let frame = first_mp3_frame(&mp3);
    let info = frame.windows(4).position(|w| w == b"Info" || w == b"Xing").expect("an Info/Xing frame comes first");
    assert!(frame[info..].windows(4).any(|w| w == b"LAME"), "with a LAME tag");
}

/// Two points in a round, one held and one stroked, with a step before,
/// between and after them: for titles with the points' names and rounds.
const TWO_POINTS: &str = r#"Routine(
    title: "Two points",
    summary: "Two points in a round, for the chapters",
    defaults: (hold: "2s"),
    opening: [Say("Begin.")],
    steps: [
        Say("First the spine."),
        Sides(point: "deep-spinal", steps: [Say("The {side} side."), Hold(), Chime("bell")]),
        Chime("soft"),
        Sides(point: "gluteus-medius", steps: [Say("The {side} side."), Strokes(count: 2, every: "1s")]),
    ],
    closing: [Say("Done.")],
)"#;

#[test]
fn chapters_name_the_points_and_the_rounds() {
    let sb = Sandbox::new();
    sb.write("two.ron", TWO_POINTS);
    let points = ["Deep spinal", "Gluteus medius"];
    let round = |n: u32, prefix: bool| -> Vec<String> {
        let p = if prefix { format!("Round {n}: ") } else { String::new() };
        let mut titles = Vec::new();
        // The rest and the spoken marker of a round after the first: its own
        // chapter, as the README promises, before its first point's.
        if n > 1 {
            titles.push(format!("Round {n}"));
        }
        for point in points {
            // The steps before a point's `Sides` introduce it.
            titles.push(format!("{p}{point}"));
            for side in ["left", "right"] {
                let phase = if point == "Deep spinal" { "hold" } else { "strokes" };
                titles.push(format!("{p}{point}, {side} side"));
                titles.push(format!("{p}{point}, {side} side — {phase}"));
            }
        }
        titles
    };
    let two_rounds: Vec<String> =
        [vec!["Opening".to_string()], round(1, true), round(2, true), vec!["Closing".to_string()]].concat();
    let one_round: Vec<String> = [vec!["Opening".to_string()], round(1, false), vec!["Closing".to_string()]].concat();

    for (options, titles, formats) in [
        (&["--rounds", "2", "--rest", "1s"][..], &two_rounds, &["mp3", "flac"][..]),
        (&[][..], &one_round, &["opus"][..]),
    ] {
        for ext in formats {
            let name = format!("two-{}.{ext}", options.len());
            let run = sb.run(&[&["render", "two.ron", "-o", &name][..], options].concat());
            assert_eq!(run.code, 0, "{name}: {}", run.stderr);
            let show = sb.run(&[&["show", "two.ron", "--json"][..], options].concat());
            let show: Value = serde_json::from_str(&show.stdout).unwrap();
            let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
            check_chapters(&sb.path().join(&name), &show, &points, &titles);
        }
    }
}

#[test]
fn an_mp3_lists_no_more_chapters_than_its_table_of_contents_can_count() {
    let sb = Sandbox::new();
    // 260 sides, each a chapter: more than a CTOC's one-byte count.
    sb.write(
        "many.ron",
        r#"Routine(title: "M", summary: "S", steps: [Repeat(times: 130, steps: [Sides([Hold(length: "200ms")])])])"#,
    );
    let run = sb.run(&["render", "many.ron", "-o", "many.mp3"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = sb.path().join("many.mp3");
    let read = chapters(&probe(&path));
    let (toc, chaps) = id3_chapters(&std::fs::read(&path).unwrap());
    assert_eq!(toc, Some((true, chaps)), "the CTOC's count is every CHAP frame's");
    assert!((1..=255).contains(&chaps), "{chaps} CHAP frames: a CTOC counts 255 at most");
    assert_eq!(read.len(), chaps);
    // Still the whole session, without gaps.
    assert_eq!(read[0].1, 0.0);
    assert!((read[read.len() - 1].2 - 52_000.0).abs() <= 1.0, "{:?}", read.last());
    for pair in read.windows(2) {
        assert_eq!(pair[0].2, pair[1].1, "{pair:?}");
    }
}

/// A short routine with no speech of its own, for the tests of names.
const SHORT: &str = r#"Routine(title: "Évening — “short”", summary: "S", steps: [Chime("bell"), Pause("2s")])"#;

#[test]
fn a_name_of_no_known_format_is_refused_before_any_work() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    let fifo = sb.path().join("pipe.opus");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for output in ["x.ogg", "x.aac", "session", "x.opus.txt", "pipe.opus"] {
        let before = names(sb.path());
        // No speech engine: had any work started, the exit would be 5.
        let mut cmd = sb.command(&["render", "short.ron", "-o", output]);
        cmd.env("BACKEASE_ESPEAK", "/nonexistent/espeak-ng");
        let run = sb.run_within(Duration::from_secs(20), &mut cmd);
        assert_eq!(run.code, 2, "-o {output}: {}", run.stderr);
        if output != "pipe.opus" {
            assert!(run.stderr.contains(".wav, .flac, .opus or .mp3"), "-o {output}: {}", run.stderr);
            assert!(run.stderr.contains("\nhint: "), "-o {output}: {}", run.stderr);
        }
        assert!(run.stdout.is_empty(), "-o {output}: nothing said to be written");
        assert_eq!(names(sb.path()), before, "-o {output}: nothing made");
    }
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
}

#[test]
fn the_extension_names_the_format_whatever_its_case() {
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    for (name, codec) in [("a.FLAC", "flac"), ("b.Opus", "opus"), ("c.MP3", "mp3"), ("d.WAV", "pcm_s16le")] {
        let run = sb.run(&["render", "short.ron", "-o", name]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let p = probe(&sb.path().join(name));
        assert_eq!(p["streams"][0]["codec_name"], codec, "{name}");
        if codec != "pcm_s16le" {
            assert_eq!(tag(&p, "title").as_deref(), Some("Évening — “short”"), "{name}: {p:#}");
        }
    }
}

/// Chimes without speech: made at once, with sound all through.
const CHIMES: &str =
    r#"Routine(title: "C", summary: "S", steps: [Repeat(times: 10, steps: [Chime("bell"), Chime("gong")])])"#;

#[test]
fn a_full_disk_leaves_no_file_and_no_part() {
    let sb = Sandbox::new();
    // A minute of chimes: far more than the disk holds in either format.
    sb.write("chimes.ron", CHIMES);
    for ext in ["flac", "opus", "mp3"] {
        let out = sb.path().join(format!("small-{ext}"));
        std::fs::create_dir_all(&out).unwrap();
        let script = format!(
            "mount -t tmpfs -o size=16k none '{o}' && cd '{o}' && '{bin}' render '{r}' -o session.{ext}; \
             echo \"exit=$?\"; ls -A '{o}'",
            o = out.display(),
            r = sb.path().join("chimes.ron").display(),
            bin = env!("CARGO_BIN_EXE_backease")
        );
        let (stdout, stderr) = sb.unshared(&script);
        assert_eq!(stdout.trim_end(), "exit=3", "{ext}: nothing left beside it; stderr: {stderr}");
        assert!(stderr.contains(&format!("cannot write session.{ext}: the disk is full")), "{stderr}");
    }
}

const LONG: &str =
    r#"Routine(title: "L", summary: "S", steps: [Repeat(times: 400, steps: [Chime("bell"), Pause("10s")])])"#;

#[test]
fn an_interrupted_flac_render_leaves_nothing() {
    let sb = Sandbox::new();
    // Over an hour of chimes and silence, with no speech to make first:
    // long enough to interrupt part-way.
    sb.write("long.ron", LONG);
    let mut child = rendering(&sb, &["render", "long.ron", "-o", "long.flac"]);
    // Part-way: the file has begun under its temporary name.
    crate::render_cli::part_of(sb.path(), "long.flac", child.id(), Duration::from_secs(10));
    child.signal("INT");
    assert_eq!(child.wait_within(Duration::from_secs(20)).code(), Some(130));
    let left = names(sb.path());
    assert!(left.iter().all(|n| !n.contains("long.flac")), "{left:?}");
}

#[test]
fn ten_minutes_of_opus_fit_in_two_megabytes() {
    let sb = Sandbox::new();
    let run = sb.run(&["render", "deep-spinal", "--rounds", "3", "-o", "long.opus"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = sb.path().join("long.opus");
    let p = probe(&path);
    let seconds: f64 = p["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!(seconds >= 600.0, "a ten-minute session: {seconds} s");
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size <= 2_000_000, "{size} bytes for {seconds:.0} s");
    assert_eq!(p["format"]["format_name"], "ogg");
    assert_eq!(p["streams"][0]["codec_name"], "opus");
    assert_eq!(p["streams"][0]["sample_rate"], "48000");
    assert_eq!(p["streams"][0]["channels"], 2);
    // The first Ogg page holds the OpusHead: version 1, two channels, and
    // a pre-skip for the encoder's look-ahead, so decoders drop it.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"OggS");
    let head = bytes[..100].windows(8).position(|w| w == b"OpusHead").expect("an OpusHead first");
    assert_eq!(bytes[head + 8], 1, "OpusHead version");
    assert_eq!(bytes[head + 9], 2, "OpusHead channels");
    let pre_skip = opus_pre_skip(&bytes).unwrap();
    assert!(pre_skip > 0, "pre-skip {pre_skip}");
}

#[test]
fn a_file_replaced_by_another_format_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.write("short.ron", SHORT);
    // An old WAV, named as the FLAC that replaces it.
    assert_eq!(sb.run(&["render", "short.ron", "-o", "kept.wav"]).code, 0);
    let path = sb.path().join("kept.flac");
    std::fs::rename(sb.path().join("kept.wav"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = sb.run(&["render", "short.ron", "-o", "kept.flac"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(&std::fs::read(&path).unwrap()[..4], b"fLaC", "the new file is a FLAC");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    let left: Vec<String> = names(sb.path()).into_iter().filter(|n| n.contains("kept")).collect();
    assert_eq!(left, ["kept.flac"], "nothing temporary is left");
}
