//! The asset's parameters, sent with the sign call, and the exact JSON they become.

use serde::Serialize;

use crate::codec::image_size::Dimensions;
use crate::error::{Error, ErrorKind};
use crate::meta::AssetMeta;
use crate::source::Source;

/// What the sign call asks Storyblok for: the filename, the folder, the metadata, and
/// whether this replaces an existing asset.
///
/// Every setter consumes and returns the parameters. Unset parameters are not sent. The
/// descriptive fields (alt text, title, custom fields, tags, …) are set once, on an
/// [`AssetMeta`] given to [`AssetParams::metadata`]: the same value sync reads from a
/// sidecar and [`Client::update_metadata`](crate::Client::update_metadata) sends.
///
/// ```
/// use storyblok_assets::{AssetMeta, AssetParams};
///
/// let params = AssetParams::new()
///     .filename("mars.jpg")
///     .folder(42)
///     .metadata(AssetMeta::new().alt("The red planet").custom_field("photographer", "NASA"));
/// # let _ = params;
/// ```
#[derive(Clone, Debug)]
pub struct AssetParams {
    pub(crate) filename: Option<String>,
    pub(crate) id: Option<u64>,
    pub(crate) asset_folder_id: Option<u64>,
    size: Size,
    pub(crate) validate_upload: bool,
    pub(crate) ext_id: Option<String>,
    /// Alt text, title, … and internal tags by name (turned into ids by the sign).
    pub(crate) metadata: AssetMeta,
    pub(crate) internal_tag_ids: Option<Vec<u64>>,
}

/// The `size` parameter: detected from the file, given, or left out.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Size {
    Detect,
    Given(Dimensions),
    Omitted,
}

impl Default for AssetParams {
    fn default() -> Self {
        AssetParams {
            filename: None,
            id: None,
            asset_folder_id: None,
            size: Size::Detect,
            validate_upload: true,
            ext_id: None,
            metadata: AssetMeta::default(),
            internal_tag_ids: None,
        }
    }
}

/// The sign call's JSON body; field order is the order on the wire.
#[derive(Serialize)]
struct SignBody<'a> {
    filename: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_folder_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<String>,
    validate_upload: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    ext_id: Option<&'a str>,
    /// Alt, title, … as [`AssetMeta`] writes them; its tag names are gone by now
    /// ([`AssetParams::with_tag_ids`] turned them into ids).
    #[serde(flatten)]
    meta: &'a AssetMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    internal_tag_ids: Option<&'a [u64]>,
}

impl AssetParams {
    /// Every parameter at its default: a new asset, `validate_upload` on, the filename and
    /// image size to be taken from the source.
    pub fn new() -> AssetParams {
        AssetParams::default()
    }

    /// The asset's filename. Storyblok lower-cases it and replaces odd characters (every
    /// `.` but the last becomes `_`). Defaults to the source file's name.
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// Replace the file of this existing asset (its id and URL stay) instead of creating
    /// a new one.
    pub fn replace(mut self, asset_id: u64) -> Self {
        self.id = Some(asset_id);
        self
    }

    /// The asset folder to put it in (`asset_folder_id`).
    pub fn folder(mut self, asset_folder_id: u64) -> Self {
        self.asset_folder_id = Some(asset_folder_id);
        self
    }

    /// The image's dimensions, sent as `size` = `"{width}x{height}"`; Storyblok puts them
    /// into the asset's URL. By default [`AssetParams::for_source`] reads them from the
    /// header of a PNG, JPEG, GIF or WebP path or bytes source (not from a reader, whose
    /// header it cannot read without consuming it); anything else sends none.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = Size::Given(Dimensions { width, height });
        self
    }

    /// Send no `size`, even for an image.
    pub fn no_size(mut self) -> Self {
        self.size = Size::Omitted;
        self
    }

    /// Whether Storyblok validates the upload when it is finished (`validate_upload`).
    /// On by default; when off, [`Client::upload`](crate::Client::upload) skips the
    /// finish call (one Management API call instead of two).
    pub fn validate_upload(mut self, validate: bool) -> Self {
        self.validate_upload = validate;
        self
    }

    /// Your own id for the asset (`ext_id`).
    pub fn ext_id(mut self, ext_id: impl Into<String>) -> Self {
        self.ext_id = Some(ext_id.into());
        self
    }

    /// Internal tags, by id (`internal_tag_ids`).
    pub fn internal_tag_ids(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.internal_tag_ids = Some(ids.into_iter().collect());
        self
    }

    /// The asset's metadata: every field `metadata` sets (alt text, title, copyright,
    /// source, focus, privacy, custom fields) is sent with the sign call, and its internal
    /// tags, by name, are looked up in the space (those missing are created) and sent as
    /// `internal_tag_ids`. Called again, it sets what the new metadata sets and adds its
    /// tags.
    ///
    /// ```
    /// use storyblok_assets::{AssetMeta, AssetParams};
    ///
    /// let meta = AssetMeta::new().alt("The red planet").tag("planets");
    /// let params = AssetParams::new().filename("mars.jpg").metadata(meta);
    /// # let _ = params;
    /// ```
    pub fn metadata(mut self, metadata: AssetMeta) -> Self {
        self.metadata.merge(&metadata);
        self
    }

    /// The parameters with the ids of their tags (looked up by name before signing) in
    /// place of the names.
    pub(crate) fn with_tag_ids(mut self, ids: &[u64]) -> Self {
        let mut all = self.internal_tag_ids.take().unwrap_or_default();
        for id in ids {
            if !all.contains(id) {
                all.push(*id);
            }
        }
        self.internal_tag_ids = Some(all);
        self.metadata.internal_tags.clear();
        self
    }

    /// Fills in what the source can tell: the filename from a path, the image size from
    /// the file's header. Refuses an empty or unreadable source, so that nothing is signed
    /// for a file that cannot be uploaded. [`Client::upload`](crate::Client::upload) calls
    /// this itself; call it before [`Client::sign`](crate::Client::sign).
    pub fn for_source(mut self, source: &Source<'_>) -> Result<Self, Error> {
        let unreadable = |error| Error::source_io(source.file_path().map(Into::into), error);
        let len = source.len().map_err(unreadable)?;
        if len == 0 {
            return Err(Error::new(ErrorKind::EmptySource));
        }
        if self.filename.is_none() {
            self.filename = source.file_name();
        }
        if self.size == Size::Detect
            && let Some(dims) = source.dimensions().map_err(unreadable)?
        {
            self.size = Size::Given(dims);
        }
        Ok(self)
    }

    /// The `size` parameter as it will be sent, if any.
    pub(crate) fn size_param(&self) -> Option<String> {
        match self.size {
            Size::Given(dims) => Some(dims.to_size_param()),
            Size::Detect | Size::Omitted => None,
        }
    }

    /// The id of the asset this replaces, if any.
    pub(crate) fn replaces(&self) -> Option<u64> {
        self.id
    }

    /// The filename the sign call will send; an error when there is none, so that
    /// nothing is looked up or created for parameters that cannot be signed.
    pub(crate) fn checked_filename(&self) -> Result<&str, Error> {
        self.filename
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid(
                    "the asset needs a filename: set AssetParams::filename, or use a path source",
                )
            })
    }

    /// The sign call's JSON body. Fails without a filename.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, Error> {
        let filename = self.checked_filename()?;
        let body = SignBody {
            filename,
            id: self.id,
            asset_folder_id: self.asset_folder_id,
            size: self.size_param(),
            validate_upload: u8::from(self.validate_upload),
            ext_id: self.ext_id.as_deref(),
            meta: &self.metadata,
            internal_tag_ids: self.internal_tag_ids.as_deref(),
        };
        serde_json::to_vec(&body).map_err(|e| {
            Error::invalid(format!(
                "the sign parameters cannot be written as JSON: {e}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(request: &AssetParams) -> String {
        String::from_utf8(request.to_json().expect("json")).expect("utf8")
    }

    #[test]
    fn minimal_body() {
        let request = AssetParams::new().filename("mars.jpg");
        assert_eq!(
            json(&request),
            r#"{"filename":"mars.jpg","validate_upload":1}"#
        );
    }

    #[test]
    fn every_parameter() {
        let request = AssetParams::new()
            .filename("Mars \"Rover\".jpg")
            .replace(123_456)
            .folder(42)
            .size(1920, 1080)
            .validate_upload(false)
            .metadata(
                AssetMeta::new()
                    .private(true)
                    .alt("alt")
                    .title("title")
                    .copyright("(c) NASA")
                    .source("JPL")
                    .focus("10x20:11x21")
                    .custom_field("camera", "Mastcam")
                    .custom_field("sol", 42),
            )
            .ext_id("ext-1")
            .internal_tag_ids([3, 4]);
        assert_eq!(
            json(&request),
            concat!(
                r#"{"filename":"Mars \"Rover\".jpg","id":123456,"asset_folder_id":42,"#,
                r#""size":"1920x1080","validate_upload":0,"ext_id":"ext-1","alt":"alt","#,
                r#""title":"title","copyright":"(c) NASA","source":"JPL","#,
                r#""focus":"10x20:11x21","is_private":true,"#,
                r#""meta_data":{"camera":"Mastcam","sol":42},"internal_tag_ids":[3,4]}"#
            )
        );
    }

    #[test]
    fn no_size_wins_over_detection() {
        // A PNG signature and IHDR chunk: 3 x 2 pixels.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 2, 8, 6, 0, 0, 0, 0, 0, 0, 0]);
        let request = AssetParams::new()
            .filename("a.png")
            .no_size()
            .for_source(&Source::bytes(png.clone()))
            .expect("ok");
        assert!(!json(&request).contains("size"));
        let detected = AssetParams::new()
            .filename("a.png")
            .for_source(&Source::bytes(png))
            .expect("ok");
        assert!(json(&detected).contains(r#""size":"3x2""#));
    }

    #[test]
    fn a_filename_is_required() {
        assert!(matches!(
            AssetParams::new().to_json().map_err(|e| e.kind().clone()),
            Err(ErrorKind::InvalidInput { .. })
        ));
        assert!(AssetParams::new().filename("  ").to_json().is_err());
    }

    #[test]
    fn empty_sources_are_refused() {
        let result = AssetParams::new()
            .filename("a")
            .for_source(&Source::bytes(&b""[..]));
        let error = result.expect_err("empty");
        assert_eq!(error.kind(), &ErrorKind::EmptySource);
        assert_eq!(error.asset_id(), None);
    }
}
