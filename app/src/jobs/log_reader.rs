//! Reading a pod's log as it arrives, in bounded memory (server only): lines for the live
//! view, each at most a bound long (a progress bar that redraws itself with `\r` is many
//! short lines, not one endless one), and raw chunks for downloads, however large the log.

use axum::body::Bytes;
use futures::{AsyncBufRead, AsyncBufReadExt, Stream};

/// The longest line sent to a page, in bytes; a longer one is cut into pieces of this size.
pub const MAX_LINE: usize = 16 * 1024;

/// The lines of `reader`, split at `\n`, `\r\n` or a lone `\r`, none longer than `most`
/// bytes (text that is not UTF-8 is shown with replacement characters).
pub fn lines<R>(reader: R, most: usize) -> impl Stream<Item = std::io::Result<String>>
where
    R: AsyncBufRead + Unpin,
{
    futures::stream::unfold(
        (reader, Vec::<u8>::new(), false),
        move |(mut reader, mut pending, mut after_cr)| async move {
            loop {
                let chunk = match reader.fill_buf().await {
                    Ok(chunk) => chunk,
                    Err(error) => return Some((Err(error), (reader, pending, true))),
                };
                if chunk.is_empty() {
                    // The end: what is left is the last line.
                    if pending.is_empty() {
                        return None;
                    }
                    let line = String::from_utf8_lossy(&pending).into_owned();
                    pending.clear();
                    return Some((Ok(line), (reader, pending, false)));
                }
                let mut used = 0;
                let mut line = None;
                for &byte in chunk {
                    used += 1;
                    match byte {
                        // The `\n` of a `\r\n` ends nothing: the `\r` did.
                        b'\n' if after_cr => after_cr = false,
                        b'\n' | b'\r' => {
                            after_cr = byte == b'\r';
                            line = Some(std::mem::take(&mut pending));
                            break;
                        }
                        _ => {
                            after_cr = false;
                            pending.push(byte);
                            if pending.len() >= most {
                                // Cut before a character the bound splits; it starts the next piece.
                                let rest = pending.split_off(whole_characters(&pending));
                                line = Some(std::mem::replace(&mut pending, rest));
                                break;
                            }
                        }
                    }
                }
                reader.consume_unpin(used);
                if let Some(line) = line {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    return Some((Ok(text), (reader, pending, after_cr)));
                }
            }
        },
    )
}

/// How much of `bytes` ends on a character boundary: all of it, unless it ends inside a
/// UTF-8 character (then up to that character's start). Bytes that are not UTF-8 at all
/// are cut anywhere.
fn whole_characters(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => e.valid_up_to(),
        _ => bytes.len(),
    }
}

/// The bytes of `reader` as they arrive, for a download: never more than one chunk held.
pub fn chunks<R>(reader: R) -> impl Stream<Item = std::io::Result<Bytes>>
where
    R: AsyncBufRead + Unpin,
{
    futures::stream::unfold(reader, |mut reader| async move {
        let chunk = match reader.fill_buf().await {
            Ok([]) => return None,
            Ok(chunk) => Bytes::copy_from_slice(chunk),
            Err(error) => return Some((Err(error), reader)),
        };
        reader.consume_unpin(chunk.len());
        Some((Ok(chunk), reader))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn read(text: &[u8], most: usize) -> Vec<String> {
        futures::executor::block_on(
            lines(futures::io::Cursor::new(text.to_vec()), most)
                .map(Result::unwrap)
                .collect(),
        )
    }

    #[test]
    fn lines_end_at_newlines_and_carriage_returns() {
        assert_eq!(read(b"one\ntwo\r\nthree", 100), ["one", "two", "three"]);
        let bar = "\r 10%|█         |\r 50%|█████     |\r100%|██████████|\n";
        assert_eq!(
            read(bar.as_bytes(), 100),
            [
                "",
                " 10%|█         |",
                " 50%|█████     |",
                "100%|██████████|"
            ]
        );
        assert_eq!(read("训练 第1轮\n".as_bytes(), 100), ["训练 第1轮"]);
    }

    #[test]
    fn a_line_without_an_end_is_cut_at_the_bound() {
        let endless = vec![b'x'; 10 * MAX_LINE + 5];
        let lines = read(&endless, MAX_LINE);
        assert_eq!(lines.len(), 11);
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE));
        // A bound that falls inside a character cuts before it.
        let wide = "█".repeat(10);
        assert_eq!(read(wide.as_bytes(), 4), vec!["█"; 10]);
        assert_eq!(read("a训练".as_bytes(), 5), ["a训", "练"]);
    }

    #[test]
    fn chunks_carry_every_byte() {
        let text: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let reader =
            futures::io::BufReader::with_capacity(4096, futures::io::Cursor::new(text.clone()));
        let got: Vec<u8> =
            futures::executor::block_on(chunks(reader).map(|c| c.unwrap().to_vec()).concat());
        assert_eq!(got, text);
    }
}
