package bench

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// A reader that stop interrupts in the middle of a batch still flushes what
// it answered, on a socket that is open until close. Run used to close the
// sockets at once, and the 200 OKs to the last NOTIFYs, counted already,
// were refused.
func TestTransportStopFlushesBatch(t *testing.T) {
	tests := []struct {
		name string
		// peer listens, returns the target address, and delivers to got
		// every line the generator writes; hello sends one message.
		peer func(t *testing.T, got chan<- string) (target string, hello func(local string))
	}{
		{name: "udp", peer: udpPeer},
		{name: "tcp", peer: tcpPeer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			target, hello := tc.peer(t, got)
			cfg := Config{Transport: tc.name, Target: target, Timeout: time.Second}.WithDefaults()
			var tr transport
			var err error
			if tc.name == "tcp" {
				tr, err = dialTCP(cfg)
			} else {
				tr, err = dialUDP(cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			inBatch, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
			ob := newOutbox(0)
			refused := -1
			go func() {
				defer close(returned)
				tr.read(0, func([]byte) {
					ob.add(append(ob.buf(), "answer\n"...))
					close(inBatch)
					<-release
				}, func() {
					if ob.n > 0 {
						refused = tr.flush(ob)
					}
				})
			}()
			hello(tr.locals()[0])
			<-inBatch
			tr.stop() // as Run does once the scenario has counted what it waits for
			close(release)
			select {
			case <-returned:
			case <-time.After(2 * time.Second):
				_ = tr.close()
				t.Fatal("read did not return after stop")
			}
			if err := tr.close(); err != nil {
				t.Error(err)
			}
			if refused != 0 {
				t.Fatalf("flush after stop: %d refused", refused)
			}
			select {
			case s := <-got:
				if s != "answer" {
					t.Errorf("peer got %q", s)
				}
			case <-time.After(2 * time.Second):
				t.Error("the answer never came")
			}
		})
	}
}

func udpPeer(t *testing.T, got chan<- string) (string, func(string)) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, 64)
		if n, _, err := conn.ReadFromUDP(buf); err == nil {
			got <- string(buf[:n-1])
		}
	}()
	return conn.LocalAddr().String(), func(local string) {
		to, err := net.ResolveUDPAddr("udp", local)
		if err == nil {
			_, err = conn.WriteToUDP([]byte("hello"), to)
		}
		if err != nil {
			t.Error(err)
		}
	}
}

func tcpPeer(t *testing.T, got chan<- string) (string, func(string)) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, err := ln.AcceptTCP()
		_ = ln.Close()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
		if s, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			got <- s[:len(s)-1]
		}
	}()
	var conn *net.TCPConn
	t.Cleanup(func() {
		_ = ln.Close()
		if conn != nil {
			_ = conn.Close()
		}
	})
	return ln.Addr().String(), func(string) {
		if conn = <-accepted; conn == nil {
			t.Fatal("no connection")
		}
		if _, err := conn.Write([]byte("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")); err != nil {
			t.Error(err)
		}
	}
}
