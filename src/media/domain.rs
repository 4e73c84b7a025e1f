//! Uploaded images: which formats we take (told by their bytes, never by a
//! name or a header), and their limits.

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;
/// Most pixels an image may declare: a 24-megapixel photo fits; a
/// "decompression bomb" (a small file declaring a huge canvas) does not,
/// and is refused before it is decoded.
pub const MAX_PIXELS: u64 = 25_000_000;
/// Longest side accepted.
pub const MAX_SIDE: u32 = 12_000;
/// Longest side kept: larger images are scaled down to it.
pub const DISPLAY_SIDE: u32 = 1600;

/// The formats we accept, each re-encoded in its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Webp,
}

impl ImageKind {
    /// The format the bytes are in, from their signature.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageKind::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageKind::Webp)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpg",
            ImageKind::Webp => "webp",
        }
    }
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("Images can be at most {} MB.", MAX_UPLOAD_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("That file is not a PNG, JPEG or WebP image.")]
    NotAnImage,
    #[error(
        "That image is {width} × {height} pixels; images can have at most 25 megapixels and {MAX_SIDE} pixels a side."
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("That image could not be read: it may be damaged. Please export it again.")]
    Unreadable,
}

/// Whether `width` × `height` is within the limits.
pub fn fits(width: u32, height: u32) -> bool {
    width <= MAX_SIDE && height <= MAX_SIDE && u64::from(width) * u64::from(height) <= MAX_PIXELS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        for other in [&b"<html><body>"[..], b"GIF89a", b"", b"RIFF\0\0\0\0WAVE"] {
            assert_eq!(ImageKind::sniff(other), None);
        }
        assert!(fits(6000, 4000));
        assert!(!fits(20_000, 20_000));
        assert!(!fits(12_001, 10));
    }
}
