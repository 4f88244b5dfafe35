"""What the numbers look like: decoding every stored type, statistics, anomalies, and quantization
(quantizers beside their inverse in ``decode/``) with its round-trip error."""
