// Command ${{ values.name }}: an HTTP service with a health endpoint and JSON logs.
package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
)

const service = "${{ values.name }}"

func newLogger() *slog.Logger {
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv("LOG_LEVEL"), "debug") {
		level = slog.LevelDebug
	}
	handler := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	return slog.New(handler).With("service", service)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": service})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"service": service})
	})
	return mux
}

func main() {
	logger := newLogger()
	slog.SetDefault(logger)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	logger.Info("listening", "port", port)
	if err := http.ListenAndServe(":"+port, newMux()); err != nil {
		logger.Error("server stopped", "error", err)
		os.Exit(1)
	}
}
