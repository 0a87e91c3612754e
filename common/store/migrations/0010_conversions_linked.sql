-- Conversions Metrica joined to a visit, once it has processed their upload.
ALTER TABLE campaign_stats ADD COLUMN conversions_linked {{integer}} NOT NULL DEFAULT 0;
