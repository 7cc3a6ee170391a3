package store

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data and size, not its times (as bbolt does).
func fdatasync(f *os.File) error {
	return syscall.Fdatasync(int(f.Fd()))
}
