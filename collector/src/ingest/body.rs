//! Request bodies: `Content-Encoding` (gzip, zstd, identity) decoded with a limit on the
//! decompressed size, so a small compressed bomb cannot exhaust memory.

use std::io::Read;

/// Why a body could not be decoded. Each maps to a 4xx.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    #[error("request body is over the {limit}-byte limit{}", if *.decompressed { " once decompressed" } else { "" })]
    TooLarge { limit: usize, decompressed: bool },
    #[error("unsupported Content-Encoding {0:?}: use gzip, zstd or identity")]
    UnsupportedEncoding(String),
    #[error("invalid {encoding} body: {reason}")]
    Corrupt {
        encoding: &'static str,
        reason: String,
    },
}

/// Decodes `body` according to a `Content-Encoding` header value (None = identity).
pub fn decode_body(
    encoding: Option<&str>,
    body: bytes::Bytes,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    let encoding = encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(BodyError::TooLarge {
                    limit,
                    decompressed: false,
                });
            }
            Ok(body)
        }
        "gzip" | "x-gzip" => {
            read_limited(flate2::read::MultiGzDecoder::new(&body[..]), "gzip", limit)
        }
        "zstd" => {
            let decoder =
                zstd::stream::read::Decoder::new(&body[..]).map_err(|e| BodyError::Corrupt {
                    encoding: "zstd",
                    reason: e.to_string(),
                })?;
            read_limited(decoder, "zstd", limit)
        }
        other => Err(BodyError::UnsupportedEncoding(other.to_string())),
    }
}

fn read_limited(
    reader: impl Read,
    encoding: &'static str,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let mut limited = reader.take(limit as u64 + 1);
    limited
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Corrupt {
            encoding,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(BodyError::TooLarge {
            limit,
            decompressed: true,
        });
    }
    Ok(bytes::Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_gzip_and_zstd() {
        let data = b"{\"msg\":\"hello\"}\n".repeat(100);
        let g = decode_body(Some("gzip"), gzip(&data).into(), 1 << 20).unwrap();
        assert_eq!(&g[..], &data[..]);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        let z = decode_body(Some("ZSTD"), z.into(), 1 << 20).unwrap();
        assert_eq!(&z[..], &data[..]);
    }

    #[test]
    fn truncated_gzip_is_a_clear_error() {
        let data = b"{\"msg\":\"hello\"}\n".repeat(100);
        let mut g = gzip(&data);
        g.truncate(g.len() / 2);
        let err = decode_body(Some("gzip"), g.into(), 1 << 20).unwrap_err();
        assert!(
            matches!(
                err,
                BodyError::Corrupt {
                    encoding: "gzip",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn limits_apply_after_decompression() {
        let data = vec![b'a'; 10_000];
        let err = decode_body(Some("gzip"), gzip(&data).into(), 9_999).unwrap_err();
        assert_eq!(
            err,
            BodyError::TooLarge {
                limit: 9_999,
                decompressed: true
            }
        );
        assert!(decode_body(Some("gzip"), gzip(&data).into(), 10_000).is_ok());
        let err = decode_body(None, data.clone().into(), 100).unwrap_err();
        assert_eq!(err.to_string(), "request body is over the 100-byte limit");
        let err = decode_body(Some("br"), data.into(), 100_000).unwrap_err();
        assert!(err.to_string().contains("\"br\""));
    }
}
