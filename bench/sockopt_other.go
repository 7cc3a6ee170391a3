//go:build !linux

package bench

import "go.uber.org/zap"

type bufferedConn interface {
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}

// setBuffers sets SO_RCVBUF and SO_SNDBUF to size, as far as allowed.
func setBuffers(c bufferedConn, size int, log *zap.Logger) {
	if err := c.SetReadBuffer(size); err != nil {
		log.Debug("set read buffer", zap.Error(err))
	}
	if err := c.SetWriteBuffer(size); err != nil {
		log.Debug("set write buffer", zap.Error(err))
	}
}
