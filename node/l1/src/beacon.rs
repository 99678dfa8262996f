//! A client of the beacon API subset the node needs.

use std::time::Duration;

use serde::de::DeserializeOwned;
use taiko_beacon::{
    api::{BlobSidecar, Genesis, ProposerDuties, Response},
    clock::SlotClock,
};

use crate::L1Error;

/// Beacon API client.
#[derive(Clone, Debug)]
pub struct BeaconClient {
    http: reqwest::Client,
    base: String,
}

impl BeaconClient {
    /// A client of the beacon node at `base` (e.g. `http://127.0.0.1:5052`).
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a TLS-less reqwest client builds");
        Self { http, base: base.trim_end_matches('/').to_string() }
    }

    async fn get<T: DeserializeOwned>(&self, path: String) -> Result<T, L1Error> {
        let err = |message: String| L1Error::Beacon { path: path.clone(), message };
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        resp.json().await.map_err(|e| err(e.to_string()))
    }

    /// The beacon genesis.
    pub async fn genesis(&self) -> Result<Genesis, L1Error> {
        Ok(self.get::<Response<Genesis>>("/eth/v1/beacon/genesis".into()).await?.data)
    }

    /// Slot arithmetic from the genesis and `SECONDS_PER_SLOT` / `SLOTS_PER_EPOCH` of the spec.
    pub async fn slot_clock(&self) -> Result<SlotClock, L1Error> {
        let genesis = self.genesis().await?;
        let spec: Response<serde_json::Map<String, serde_json::Value>> =
            self.get("/eth/v1/config/spec".into()).await?;
        let field = |name: &str| -> Result<u64, L1Error> {
            spec.data.get(name).and_then(|v| v.as_str()).and_then(|s| s.parse().ok()).ok_or_else(
                || L1Error::Beacon {
                    path: "/eth/v1/config/spec".into(),
                    message: format!("{name} missing or not a number"),
                },
            )
        };
        Ok(SlotClock {
            genesis: genesis.genesis_time,
            slot_secs: field("SECONDS_PER_SLOT")?,
            slots_per_epoch: field("SLOTS_PER_EPOCH")?,
        })
    }

    /// The blob sidecars of the block at `slot` (none for a slot without blobs).
    pub async fn blob_sidecars(&self, slot: u64) -> Result<Vec<BlobSidecar>, L1Error> {
        Ok(self
            .get::<Response<Vec<BlobSidecar>>>(format!("/eth/v1/beacon/blob_sidecars/{slot}"))
            .await?
            .data)
    }

    /// The proposer of each slot of `epoch`.
    pub async fn proposer_duties(&self, epoch: u64) -> Result<ProposerDuties, L1Error> {
        self.get(format!("/eth/v1/validator/duties/proposer/{epoch}")).await
    }
}
