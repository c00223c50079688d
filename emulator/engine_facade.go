package emulator

// Engine is a connection to a Docker engine, on which every command works.
type Engine struct{ *Conn }
