package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/b2bua/b2bua/auth/users"
)

// The admin API lets `b2bua user|token|keys` work while a server holds the
// store's single-writer lock. It is served on the --http listener (loopback
// by default) and requires the admin token the server writes at start to
// <data>/admin.token, readable by the data directory's owner only: whoever
// can read the data directory can administer the server anyway.

const adminTokenFile = "admin.token"

// writeAdminToken creates a fresh admin token for this run of the server.
func writeAdminToken(dataDir string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	path := filepath.Join(dataDir, adminTokenFile)
	if err := os.WriteFile(path+".tmp", []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}

func readAdminToken(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, adminTokenFile))
	if err != nil {
		return "", fmt.Errorf("the data directory is in use but its admin token is unreadable: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// adminHandler serves /admin/ over the users service.
func adminHandler(svc *users.Service, token string, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/users", func(w http.ResponseWriter, r *http.Request) {
		var req adminUser
		if !decode(w, r, &req) {
			return
		}
		respond(w, log, http.StatusCreated, nil, svc.AddUser(req.Name, req.Password, req.Scopes))
	})
	mux.HandleFunc("GET /admin/users", func(w http.ResponseWriter, _ *http.Request) {
		list, err := svc.Users()
		respond(w, log, http.StatusOK, list, err)
	})
	mux.HandleFunc("PUT /admin/users/{name}/password", func(w http.ResponseWriter, r *http.Request) {
		var req adminUser
		if !decode(w, r, &req) {
			return
		}
		respond(w, log, http.StatusOK, nil, svc.SetPassword(r.PathValue("name"), req.Password))
	})
	mux.HandleFunc("PUT /admin/users/{name}/disabled", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Disabled bool `json:"disabled"`
		}
		if !decode(w, r, &req) {
			return
		}
		respond(w, log, http.StatusOK, nil, svc.SetDisabled(r.PathValue("name"), req.Disabled))
	})
	mux.HandleFunc("DELETE /admin/users/{name}", func(w http.ResponseWriter, r *http.Request) {
		respond(w, log, http.StatusOK, nil, svc.DeleteUser(r.PathValue("name")))
	})
	mux.HandleFunc("POST /admin/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req adminUser
		if !decode(w, r, &req) {
			return
		}
		tok, exp, err := svc.IssueAccessToken(req.Name, req.Scopes)
		respond(w, log, http.StatusOK, adminToken{AccessToken: tok, ExpiresAt: exp}, err)
	})
	mux.HandleFunc("POST /admin/keys/rotate", func(w http.ResponseWriter, _ *http.Request) {
		kid, err := svc.RotateKeys()
		respond(w, log, http.StatusOK, map[string]string{"kid": kid}, err)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

type adminUser struct {
	Name     string   `json:"name,omitempty"`
	Password string   `json:"password,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
}

type adminToken struct {
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

type adminError struct {
	Error string `json:"error"`
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{"bad request body: " + err.Error()})
		return false
	}
	return true
}

// respond writes v with status ok, or the error with the status it maps to.
func respond(w http.ResponseWriter, log *zap.Logger, ok int, v any, err error) {
	switch {
	case err == nil:
		if v == nil {
			v = map[string]bool{"ok": true}
		}
		writeJSON(w, ok, v)
	case errors.Is(err, users.ErrUserExists):
		writeJSON(w, http.StatusConflict, adminError{err.Error()})
	case errors.Is(err, users.ErrNoSuchUser):
		writeJSON(w, http.StatusNotFound, adminError{err.Error()})
	case errors.Is(err, users.ErrInvalidName), errors.Is(err, users.ErrEmptyPassword), errors.Is(err, users.ErrInvalidScope):
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
	default:
		log.Error("admin request failed", zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, adminError{err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
