"""A local Vertex AI Veo server (`:predictLongRunning`, `:fetchPredictOperation`, GCS output) for `google-genai`."""
