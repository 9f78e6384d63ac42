//! The command engine: any program that turns text into a WAV file, named
//! by a template — Piper for a natural neural voice, `say` on macOS.
//!
//! The template is run by `sh -c` with the cue text on stdin; `{out}` in it
//! becomes the path of the WAV file to write (or the program may write WAV
//! to stdout instead), and `{text}` the text itself, quoted for the shell.
//! Its output is read, resampled and mixed like espeak-ng's.

use std::process::Command;

use super::{Engine, SpeechError};

pub struct CommandEngine {
    template: String,
}

impl CommandEngine {
    pub fn new(template: &str) -> Result<CommandEngine, SpeechError> {
        if template.trim().is_empty() {
            return Err(SpeechError {
                message: "the command engine needs a command".into(),
                hint: Some(
                    "give --command 'piper --model VOICE.onnx --output_file {out}' or set command in the config file"
                        .into(),
                ),
            });
        }
        Ok(CommandEngine { template: template.to_string() })
    }
}

/// Quotes a string for `sh`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Engine for CommandEngine {
    fn key(&self) -> String {
        format!("command {}", self.template)
    }

    fn synthesize(&self, text: &str) -> Result<Vec<i16>, SpeechError> {
        let (_dir, out) = super::scratch_wav()?;
        let line = self
            .template
            .replace("{out}", &shell_quote(&out.display().to_string()))
            .replace("{text}", &shell_quote(text));
        let ran = super::run_program(Command::new("sh").args(["-c", &line]), "the speech command", text);
        let the_command = || Some(format!("the command was: {line}"));
        let (status, stdout, errors) = ran.map_err(|e| SpeechError { hint: e.hint.or_else(the_command), ..e })?;
        if !status.success() {
            let detail = errors.lines().last().unwrap_or("no message").to_string();
            return Err(SpeechError {
                message: format!("the speech command failed ({status}): {detail}"),
                hint: the_command(),
            });
        }
        let bytes = if self.template.contains("{out}") { super::read_wav(&out).unwrap_or_default() } else { stdout };
        let pcm = crate::audio::wav::parse(&bytes).map_err(|e| SpeechError {
            message: format!("the speech command gave no readable WAV: {e}"),
            hint: Some("it must write a 16-bit WAV to {out}, or to stdout".into()),
        })?;
        Ok(super::to_session_rate(&pcm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_a_template_that_writes_a_wav_file() {
        // sox stands in for a TTS program: half a second of tone per cue.
        let engine =
            CommandEngine::new("cat > /dev/null; sox -n -r 16000 -b 16 -c 1 {out} synth 0.5 sine 440").unwrap();
        let samples = engine.synthesize("hello").unwrap();
        assert_eq!(samples.len(), crate::speech::ENGINE_RATE as usize / 2);
        assert!(samples.iter().any(|&s| s != 0));
    }

    #[test]
    fn reports_a_failing_command_and_quotes_text() {
        let engine = CommandEngine::new("echo {text} >&2; exit 3").unwrap();
        let err = engine.synthesize("it's; rm -rf nothing").unwrap_err();
        assert_eq!(err.message, "the speech command failed (exit status: 3): it's; rm -rf nothing");
        assert!(CommandEngine::new("  ").is_err());
    }
}
