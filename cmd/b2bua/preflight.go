package main

import (
	"fmt"
	"net"

	"github.com/b2bua/b2bua/config"
	"github.com/b2bua/b2bua/sip/edge"
)

// preflight opens and closes every SIP listener and the HTTP listener
// before serve touches the disk, so that an address that cannot be used
// (a name that does not resolve, a port in use or not permitted) fails at
// once with a clear error and leaves no data directory behind. Config
// validation has already checked their form.
func preflight(c config.Config) error {
	for _, s := range c.Listen {
		l, err := edge.ParseListener(s)
		if err != nil {
			return err
		}
		if err := tryListen(l.Network, l.Addr); err != nil {
			return fmt.Errorf("listen %s: %w", s, err)
		}
	}
	if err := tryListen("tcp", c.HTTP); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

func tryListen(network, addr string) error {
	if network == "udp" {
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			return err
		}
		return pc.Close()
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	return ln.Close()
}
