use super::*;
use crate::{Progress, Reply};
use proptest::prelude::*;

const REJECT: DataOptions = DataOptions {
    max_size: None,
    bare_newline: BareNewline::Reject,
};
const NORMALIZE: DataOptions = DataOptions {
    max_size: None,
    bare_newline: BareNewline::Normalize,
};

/// Feeds `input` in one call; returns (output, consumed, result if done).
fn read(options: DataOptions, input: &[u8]) -> (Vec<u8>, usize, Option<Result<u64, DataError>>) {
    let mut reader = DataReader::new(options);
    let mut out = Vec::new();
    let progress = reader.feed(input, &mut out);
    (out, progress.consumed, progress.output)
}

/// Feeds `input` split at the given offsets.
fn read_split(
    options: DataOptions,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<u8>, usize, Option<Result<u64, DataError>>) {
    let mut reader = DataReader::new(options);
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        let progress = reader.feed(&input[start..end], &mut out);
        consumed += progress.consumed;
        if let Some(result) = progress.output {
            return (out, consumed, Some(result));
        }
        assert_eq!(
            progress.consumed,
            end - start,
            "a reader not done consumes everything"
        );
        start = end;
    }
    (out, consumed, None)
}

#[test]
fn unstuffing_is_exact() {
    let cases: &[(&str, &[u8], &[u8])] = &[
        ("empty message", b".\r\n", b""),
        ("one line", b"Hello\r\n.\r\n", b"Hello\r\n"),
        ("empty lines", b"\r\n\r\n.\r\n", b"\r\n\r\n"),
        ("stuffed dot line", b"..\r\n.\r\n", b".\r\n"),
        ("stuffed leading dot", b"..x\r\n.\r\n", b".x\r\n"),
        ("three dots", b"...\r\n.\r\n", b"..\r\n"),
        ("unstuffed dot is dropped", b".x\r\n.\r\n", b"x\r\n"),
        ("dot inside line", b"a.b\r\n.\r\n", b"a.b\r\n"),
        ("dot at end of line", b"a.\r\n.\r\n", b"a.\r\n"),
        ("dot space", b". \r\n.\r\n", b" \r\n"),
        (
            "stuffed after first line",
            b"a\r\n..b\r\n.\r\n",
            b"a\r\n.b\r\n",
        ),
        ("8-bit content", b"caf\xc3\xa9\r\n.\r\n", b"caf\xc3\xa9\r\n"),
        ("nul kept", b"a\0b\r\n.\r\n", b"a\0b\r\n"),
    ];
    for (name, input, want) in cases {
        let (out, consumed, result) = read(REJECT, input);
        assert_eq!(out, *want, "{name}");
        assert_eq!(consumed, input.len(), "{name}");
        assert_eq!(result, Some(Ok(want.len() as u64)), "{name}");
    }
}

#[test]
fn stops_at_the_end_and_leaves_the_rest() {
    let input = b"a\r\n.\r\nMAIL FROM:<>\r\n";
    let (out, consumed, result) = read(REJECT, input);
    assert_eq!(out, b"a\r\n");
    assert_eq!(consumed, 6);
    assert_eq!(&input[consumed..], b"MAIL FROM:<>\r\n");
    assert_eq!(result, Some(Ok(3)));
}

#[test]
fn incomplete_message_consumes_everything() {
    for (name, input) in [
        ("no end", &b"abc\r\n"[..]),
        ("dot pending", b"abc\r\n."),
        ("dot cr pending", b"abc\r\n.\r"),
        ("cr pending", b"abc\r"),
    ] {
        let (_, consumed, result) = read(REJECT, input);
        assert_eq!((consumed, result), (input.len(), None), "{name}");
    }
}

#[test]
fn every_two_way_split_gives_the_same_result() {
    let messages: &[&[u8]] = &[
        b"Subject: x\r\n\r\n..stuffed\r\n.\r\n..\r\nlast\r\n.\r\nNEXT",
        b".\r\nQUIT\r\n",
        b"a\n.\nb\r.\r\nc\r\n.\r\nQUIT\r\n",
    ];
    for options in [REJECT, NORMALIZE] {
        for message in messages {
            let whole = read(options, message);
            assert!(whole.2.is_some());
            for cut in 0..=message.len() {
                assert_eq!(read_split(options, message, &[cut]), whole, "cut at {cut}");
            }
            let cuts: Vec<usize> = (1..message.len()).collect();
            assert_eq!(read_split(options, message, &cuts), whole, "byte by byte");
        }
    }
}

#[test]
fn smuggling_never_ends_the_message_early() {
    // Each variant is a fake end-of-data followed by a fake second transaction; the
    // real end comes after it.
    let variants: &[(&str, &[u8], DataError)] = &[
        ("lf dot lf", b"\n.\n", DataError::BareLf),
        ("lf dot crlf", b"\n.\r\n", DataError::BareLf),
        ("crlf dot lf", b"\r\n.\n", DataError::BareLf),
        ("cr dot crlf", b"\r.\r\n", DataError::BareCr),
        ("cr dot cr", b"\r.\r", DataError::BareCr),
        ("crlf dot cr", b"\r\n.\rX", DataError::BareCr),
        ("lf dot cr lf", b"\n.\r\n", DataError::BareLf),
        ("cr lf dot lf", b"\r\n.\n\r\n", DataError::BareLf),
        ("double cr", b"\r\r\n.\r\r\n", DataError::BareCr),
    ];
    for (name, variant, error) in variants {
        let mut input = b"Subject: test\r\n\r\nbody".to_vec();
        input.extend_from_slice(variant);
        input.extend_from_slice(
            b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nforged",
        );
        let real_end = input.len() + 5;
        input.extend_from_slice(b"\r\n.\r\nQUIT\r\n");

        let (out, consumed, result) = read(REJECT, &input);
        assert_eq!(consumed, real_end, "{name}: reject mode end");
        assert_eq!(&input[consumed..], b"QUIT\r\n", "{name}");
        assert_eq!(result, Some(Err(*error)), "{name}: reject mode result");
        assert!(out.len() < 30, "{name}: nothing after the error is output");
        assert_eq!(DataError::BareLf.reply(), Reply::bare_newline());

        let (out, consumed, result) = read(NORMALIZE, &input);
        assert_eq!(consumed, real_end, "{name}: normalize mode end");
        assert!(
            matches!(result, Some(Ok(_))),
            "{name}: normalize mode result"
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("MAIL FROM:<evil@example.org>\r\n"),
            "{name}: smuggled text stays content"
        );
        assert!(text.ends_with("forged\r\n"), "{name}");
        assert_no_bare_newlines(text.as_bytes());
    }
}

fn assert_no_bare_newlines(out: &[u8]) {
    for (i, &b) in out.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r', "bare LF at {i} in {out:?}");
        }
        if b == b'\r' {
            assert_eq!(out.get(i + 1), Some(&b'\n'), "bare CR at {i} in {out:?}");
        }
    }
}

#[test]
fn normalize_mode_output() {
    let cases: &[(&str, &[u8], &[u8])] = &[
        ("bare lf", b"a\nb\r\n.\r\n", b"a\r\nb\r\n"),
        ("bare cr", b"a\rb\r\n.\r\n", b"a\r\nb\r\n"),
        ("cr cr lf", b"a\r\r\n.\r\n", b"a\r\n\r\n"),
        ("lf dot lf kept", b"a\n.\nb\r\n.\r\n", b"a\r\n.\r\nb\r\n"),
        (
            "dot line after lf kept",
            b"a\n.\r\nb\r\n.\r\n",
            b"a\r\n.\r\nb\r\n",
        ),
        ("stuffing after bare lf", b"a\n..b\r\n.\r\n", b"a\r\n.b\r\n"),
        (
            "crlf dot bare cr",
            b"a\r\n.\rb\r\n.\r\n",
            b"a\r\n.\r\nb\r\n",
        ),
        ("first line bare lf", b"\n.\r\n.\r\n", b"\r\n.\r\n"),
        (
            "dot lf at start is content",
            b".\n.\r\n.\r\n",
            b".\r\n.\r\n",
        ),
    ];
    for (name, input, want) in cases {
        let (out, consumed, result) = read(NORMALIZE, input);
        assert_eq!(out, *want, "{name}");
        assert_eq!(consumed, input.len(), "{name}");
        assert_eq!(result, Some(Ok(want.len() as u64)), "{name}");
    }
}

#[test]
fn reject_mode_reports_bare_newlines() {
    let cases: &[(&str, &[u8], DataError)] = &[
        ("bare lf", b"a\nb\r\n.\r\n", DataError::BareLf),
        ("bare cr", b"a\rb\r\n.\r\n", DataError::BareCr),
        ("first bare wins", b"a\rb\nc\r\n.\r\n", DataError::BareCr),
    ];
    for (name, input, error) in cases {
        let (_, consumed, result) = read(REJECT, input);
        assert_eq!(consumed, input.len(), "{name}");
        assert_eq!(result, Some(Err(*error)), "{name}");
    }
}

#[test]
fn line_length_limit() {
    let line = |len: usize| {
        let mut input = vec![b'x'; len];
        input.extend_from_slice(b"\r\nnext\r\n.\r\nQUIT\r\n");
        input
    };
    let (_, _, result) = read(REJECT, &line(998));
    assert_eq!(result, Some(Ok(998 + 2 + 6)));
    let input = line(999);
    let (out, consumed, result) = read(REJECT, &input);
    assert_eq!(result, Some(Err(DataError::LineTooLong)));
    assert_eq!(&input[consumed..], b"QUIT\r\n", "consumed to the real end");
    assert!(out.len() <= 998, "output stops at the error");
    // A stuffed dot does not count: 999 on the wire, 998 in the message.
    let mut stuffed = vec![b'.'];
    stuffed.extend_from_slice(&line(998));
    let (_, _, result) = read(REJECT, &stuffed);
    assert_eq!(result, Some(Ok(998 + 2 + 6)));
    // The limit holds across chunks.
    let input = line(999);
    assert_eq!(
        read_split(REJECT, &input, &[500]).2,
        Some(Err(DataError::LineTooLong))
    );
    assert_eq!(
        DataError::LineTooLong.reply(),
        Reply::message_line_too_long()
    );
}

#[test]
fn size_limit() {
    let input = b"abc\r\n.\r\nQUIT\r\n"; // 5 octets of content
    let limited = |max| DataOptions {
        max_size: Some(max),
        bare_newline: BareNewline::Reject,
    };
    let (out, _, result) = read(limited(5), input);
    assert_eq!((out.as_slice(), result), (&b"abc\r\n"[..], Some(Ok(5))));
    let (out, consumed, result) = read(limited(4), input);
    assert_eq!(result, Some(Err(DataError::TooBig { limit: 4 })));
    assert_eq!(&input[consumed..], b"QUIT\r\n");
    assert_eq!(out, b"abc", "output stops before the limit is passed");
    assert_eq!(DataError::TooBig { limit: 4 }.reply(), Reply::too_big());
}

#[test]
fn error_is_known_early_and_result_repeats() {
    let mut reader = DataReader::new(REJECT);
    let mut out = Vec::new();
    let progress = reader.feed(b"a\nb", &mut out);
    assert_eq!(progress, Progress::pending(3));
    assert_eq!(reader.error(), Some(&DataError::BareLf));
    assert!(!reader.is_done());
    let progress = reader.feed(b"\r\n.\r\nrest", &mut out);
    assert_eq!(progress.consumed, 5);
    assert!(reader.is_done());
    assert_eq!(
        reader.feed(b"rest", &mut out),
        Progress::done(0, Err(DataError::BareLf))
    );
    assert_eq!(
        reader.size(),
        6,
        "the bare LF counts as the CRLF it stands for"
    );
}

fn bdat(options: DataOptions, binary: bool, chunks: &[(&[u8], bool)]) -> (Vec<u8>, Vec<ChunkEnd>) {
    let mut reader = BdatReader::new(options, binary);
    let mut out = Vec::new();
    let mut ends = Vec::new();
    for (chunk, last) in chunks {
        reader.begin_chunk(chunk.len() as u64, *last);
        let mut input = b"".to_vec();
        input.extend_from_slice(chunk);
        input.extend_from_slice(b"NEXT");
        let progress = reader.feed(&input, &mut out);
        assert_eq!(
            progress.consumed,
            chunk.len(),
            "exactly the chunk is consumed"
        );
        ends.extend(progress.output);
    }
    (out, ends)
}

#[test]
fn bdat_counts_exactly() {
    let (out, ends) = bdat(REJECT, false, &[(b"hello\r\n", false), (b".\r\n", true)]);
    assert_eq!(out, b"hello\r\n.\r\n", "no dot processing");
    assert_eq!(
        ends,
        vec![
            ChunkEnd {
                last: false,
                result: Ok(7)
            },
            ChunkEnd {
                last: true,
                result: Ok(10)
            }
        ]
    );
}

#[test]
fn bdat_chunk_in_pieces() {
    let mut reader = BdatReader::new(REJECT, false);
    let mut out = Vec::new();
    assert_eq!(
        reader.feed(b"x", &mut out),
        Progress::pending(0),
        "no chunk begun"
    );
    reader.begin_chunk(6, true);
    assert_eq!(reader.feed(b"ab\r", &mut out), Progress::pending(3));
    let progress = reader.feed(b"\ncd\r\nQUIT\r\n", &mut out);
    assert_eq!(
        progress,
        Progress::done(
            3,
            ChunkEnd {
                last: true,
                result: Ok(6)
            }
        )
    );
    assert_eq!(out, b"ab\r\ncd");
    let mut reader = BdatReader::new(REJECT, false);
    reader.begin_chunk(0, true);
    assert_eq!(
        reader.feed(b"", &mut out),
        Progress::done(
            0,
            ChunkEnd {
                last: true,
                result: Ok(0)
            }
        )
    );
}

#[test]
fn bdat_text_rules_across_chunks() {
    type Case<'a> = (
        &'a str,
        DataOptions,
        Vec<(&'a [u8], bool)>,
        Result<u64, DataError>,
        &'a [u8],
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "crlf split across chunks",
            REJECT,
            vec![(b"a\r", false), (b"\nb\r\n", true)],
            Ok(6),
            b"a\r\nb\r\n",
        ),
        (
            "bare lf",
            REJECT,
            vec![(b"a\nb", true)],
            Err(DataError::BareLf),
            b"a",
        ),
        (
            "bare cr between chunks",
            REJECT,
            vec![(b"a\r", false), (b"b", true)],
            Err(DataError::BareCr),
            b"a",
        ),
        (
            "bare cr at the very end",
            REJECT,
            vec![(b"a\r", true)],
            Err(DataError::BareCr),
            b"a",
        ),
        (
            "normalize lf",
            NORMALIZE,
            vec![(b"a\nb", true)],
            Ok(4),
            b"a\r\nb",
        ),
        (
            "normalize cr between chunks",
            NORMALIZE,
            vec![(b"a\r", false), (b"b", true)],
            Ok(4),
            b"a\r\nb",
        ),
        (
            "normalize final cr",
            NORMALIZE,
            vec![(b"a\r", true)],
            Ok(3),
            b"a\r\n",
        ),
    ];
    for (name, options, chunks, want, output) in cases {
        let (out, ends) = bdat(options, false, &chunks);
        assert_eq!(ends.last().map(|end| end.result), Some(want), "{name}");
        assert_eq!(out, output, "{name}");
    }
}

#[test]
fn bdat_binary_is_untouched() {
    let data: &[u8] = b"\n\r\0\xff.\r\n.\r\n";
    let (out, ends) = bdat(REJECT, true, &[(data, false), (b"\r", true)]);
    let mut want = data.to_vec();
    want.push(b'\r');
    assert_eq!(out, want);
    assert_eq!(ends.last().unwrap().result, Ok(want.len() as u64));
    let long = vec![b'x'; 5000];
    let (_, ends) = bdat(REJECT, true, &[(&long, true)]);
    assert_eq!(ends[0].result, Ok(5000), "no line limit for binary");
}

#[test]
fn bdat_limits() {
    let limited = DataOptions {
        max_size: Some(5),
        bare_newline: BareNewline::Reject,
    };
    let (_, ends) = bdat(limited, false, &[(b"abc", false), (b"de", true)]);
    assert_eq!(ends[1].result, Ok(5));
    let (out, ends) = bdat(
        limited,
        false,
        &[(b"abc", false), (b"def", false), (b"g", true)],
    );
    assert_eq!(ends[0].result, Ok(3));
    assert_eq!(ends[1].result, Err(DataError::TooBig { limit: 5 }));
    assert_eq!(
        ends[2],
        ChunkEnd {
            last: true,
            result: Err(DataError::TooBig { limit: 5 })
        }
    );
    assert_eq!(out, b"abc");
    let line = vec![b'x'; 999];
    let (_, ends) = bdat(
        REJECT,
        false,
        &[(&line[..500], false), (&line[500..], true)],
    );
    assert_eq!(ends[1].result, Err(DataError::LineTooLong));
    let (_, ends) = bdat(REJECT, false, &[(&line[..998], true)]);
    assert_eq!(ends[0].result, Ok(998));
}

/// See: issue 11. Found by fuzzing: when one read carried a line past both the size
/// limit and the line limit, the line error was reported even where the size limit
/// came first; read in smaller pieces, the same message was too big. The first error
/// in the message now wins, however it is split.
#[test]
fn issue_11_first_error_does_not_depend_on_the_reads() {
    let limited = DataOptions {
        max_size: Some(600),
        bare_newline: BareNewline::Reject,
    };
    let mut message = vec![b'x'; 1200];
    message.extend_from_slice(b"\r\n.\r\n");
    let pieces = |size: usize| (size..message.len()).step_by(size).collect::<Vec<_>>();
    for cuts in [vec![], pieces(1), pieces(2), pieces(700)] {
        let (_, _, result) = read_split(limited, &message, &cuts);
        assert_eq!(
            result,
            Some(Err(DataError::TooBig { limit: 600 })),
            "cut at {:?}",
            cuts.first()
        );
    }
    let chunk = &message[..1200];
    for split in [1, 2, 600, 700, 1199] {
        let (_, ends) = bdat(
            limited,
            false,
            &[(&chunk[..split], false), (&chunk[split..], true)],
        );
        assert_eq!(
            ends[1].result,
            Err(DataError::TooBig { limit: 600 }),
            "split at {split}"
        );
    }
    // With the size limit past the line limit, the line is the first error.
    let roomy = DataOptions {
        max_size: Some(1100),
        ..limited
    };
    for cuts in [vec![], pieces(1), pieces(999)] {
        let (_, _, result) = read_split(roomy, &message, &cuts);
        assert_eq!(
            result,
            Some(Err(DataError::LineTooLong)),
            "cut at {:?}",
            cuts.first()
        );
    }
}

#[test]
fn stuffing() {
    let cases: &[(&str, &[u8], &[u8])] = &[
        ("empty", b"", b".\r\n"),
        ("one line", b"a\r\n", b"a\r\n.\r\n"),
        ("leading dot", b".a\r\n", b"..a\r\n.\r\n"),
        ("dot line", b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
        ("dot inside", b"a.b\r\n", b"a.b\r\n.\r\n"),
        ("no final newline", b"a", b"a\r\n.\r\n"),
        ("final bare cr", b"a\r", b"a\r\n.\r\n"),
        ("bare lf", b"a\n.b", b"a\r\n..b\r\n.\r\n"),
        ("bare cr", b"a\r.b\r\n", b"a\r\n..b\r\n.\r\n"),
        ("empty lines", b"\r\n\r\n", b"\r\n\r\n.\r\n"),
    ];
    for (name, input, want) in cases {
        assert_eq!(stuff(input), *want, "{name}");
        // Streaming in pieces gives the same bytes.
        for cut in 0..=input.len() {
            let mut stuffer = Stuffer::new();
            let mut out = Vec::new();
            stuffer.push(&input[..cut], &mut out);
            stuffer.push(&input[cut..], &mut out);
            stuffer.finish(&mut out);
            assert_eq!(out, *want, "{name} cut at {cut}");
        }
    }
}

/// The end of DATA by definition: the first `.CRLF` line after a real CRLF (or first).
fn naive_end(input: &[u8]) -> Option<usize> {
    if input.starts_with(b".\r\n") {
        return Some(3);
    }
    input
        .windows(5)
        .position(|w| w == b"\r\n.\r\n")
        .map(|at| at + 5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn end_is_exactly_the_first_crlf_dot_crlf(
        input in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'.'), Just(b'\r'), Just(b'\n')], 0..40),
        cut in 0usize..40,
    ) {
        for options in [REJECT, NORMALIZE] {
            let cut = cut.min(input.len());
            let (out, consumed, result) = read_split(options, &input, &[cut]);
            match naive_end(&input) {
                Some(end) => {
                    prop_assert_eq!(consumed, end);
                    prop_assert!(result.is_some());
                }
                None => {
                    prop_assert_eq!(consumed, input.len());
                    prop_assert!(result.is_none());
                }
            }
            if options == NORMALIZE {
                assert_no_bare_newlines(&out);
                if let Some(Ok(size)) = result {
                    prop_assert_eq!(size, out.len() as u64);
                }
            }
        }
    }

    #[test]
    fn stuffing_round_trips(
        lines in proptest::collection::vec(
            proptest::collection::vec(any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'), 0..30),
            0..12,
        ),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut body = Vec::new();
        for line in &lines {
            body.extend_from_slice(line);
            body.extend_from_slice(b"\r\n");
        }
        let mut wire = stuff(&body);
        wire.extend_from_slice(b"NEXT");
        let cut = cut.index(wire.len() + 1);
        let (out, consumed, result) = read_split(REJECT, &wire, &[cut]);
        prop_assert_eq!(&out, &body);
        prop_assert_eq!(consumed, wire.len() - 4);
        prop_assert_eq!(result, Some(Ok(body.len() as u64)));
    }

    #[test]
    fn reader_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..6)) {
        for options in [REJECT, NORMALIZE, DataOptions { max_size: Some(10), bare_newline: BareNewline::Reject }] {
            let mut reader = DataReader::new(options);
            let mut out = Vec::new();
            for chunk in &chunks {
                let progress = reader.feed(chunk, &mut out);
                prop_assert!(progress.consumed <= chunk.len());
            }
            prop_assert!(out.len() as u64 <= reader.size());
        }
    }

    #[test]
    fn bdat_consumes_exact_sizes(
        sizes in proptest::collection::vec(0u64..50, 1..5),
        data in proptest::collection::vec(any::<u8>(), 0..300),
        binary in any::<bool>(),
    ) {
        let mut reader = BdatReader::new(REJECT, binary);
        let mut out = Vec::new();
        let mut input = data.as_slice();
        for (index, &size) in sizes.iter().enumerate() {
            reader.begin_chunk(size, index + 1 == sizes.len());
            let mut left = usize::try_from(size).unwrap();
            loop {
                let progress = reader.feed(input, &mut out);
                prop_assert!(progress.consumed <= left);
                left -= progress.consumed;
                input = &input[progress.consumed..];
                if progress.output.is_some() {
                    prop_assert_eq!(left, 0);
                    break;
                }
                if input.is_empty() {
                    break;
                }
            }
            if left > 0 {
                break;
            }
        }
    }
}
