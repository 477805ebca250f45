-- HEAD instead of GET: SeaweedFS's HeadObject with a versionId.
wrk.method = "HEAD"
