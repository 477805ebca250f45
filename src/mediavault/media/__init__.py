"""What the bytes are: MIME sniffing, image probing and thumbnails."""
