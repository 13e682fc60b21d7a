//! Many uploads on a bounded number of threads, sharing one client's pacing.

use crate::asset::Asset;
use crate::client::Client;
use crate::error::Error;
use crate::params::AssetParams;
use crate::source::Source;

impl Client {
    /// Uploads many files on up to `concurrency` threads and returns one result per item,
    /// in input order. One item's failure never stops the others.
    ///
    /// The threads share this client's pacing, so the space's rate limit holds however
    /// many there are; more than a few only help when S3 transfers dominate. Each item is
    /// a full [`Client::upload`]: sign, upload, finish.
    ///
    /// ```no_run
    /// use storyblok_assets::{Client, Source, Token, AssetParams};
    ///
    /// let client = Client::new(Token::personal("token"))?;
    /// let items = ["a.png", "b.png", "c.png"]
    ///     .map(|path| (AssetParams::new().folder(42), Source::path(path)));
    /// for (item, result) in client.upload_all(184738, items, 4).into_iter().enumerate() {
    ///     match result {
    ///         Ok(asset) => println!("{item}: {}", asset.filename),
    ///         Err(e) => eprintln!("{item}: {e}"),
    ///     }
    /// }
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn upload_all<'a>(
        &self,
        space_id: u64,
        items: impl IntoIterator<Item = (AssetParams, Source<'a>)>,
        concurrency: usize,
    ) -> Vec<Result<Asset, Error>> {
        self.upload_all_with(space_id, items, concurrency, |_, _| {})
    }

    /// [`Client::upload_all`], calling `on_result(index, &result)` as each item finishes
    /// (from the worker threads, in completion order), for progress reports.
    pub fn upload_all_with<'a>(
        &self,
        space_id: u64,
        items: impl IntoIterator<Item = (AssetParams, Source<'a>)>,
        concurrency: usize,
        on_result: impl Fn(usize, &Result<Asset, Error>) + Sync,
    ) -> Vec<Result<Asset, Error>> {
        let items: Vec<_> = items.into_iter().enumerate().collect();
        crate::pool::map(items, concurrency, |(index, (params, source))| {
            let result = self.upload(space_id, params, source);
            on_result(index, &result);
            result
        })
    }
}
