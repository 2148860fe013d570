"""media-signal: rooms, join grants and the signalling stream; media flows P2P or through Janus."""
