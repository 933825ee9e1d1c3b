// Command centrifuge is a baseline for bench/: lobbies on
// github.com/centrifugal/centrifuge, the real-time library behind
// Centrifugo, written the way its README and examples teach it — a Node,
// OnConnecting authenticating the token of the connect command (an HS256
// JWT, verified with golang-jwt), a channel per lobby, clients subscribing
// (OnSubscribe decides: the lobby exists and has room) and publishing into
// it (OnPublish: only members), RPC for what is not a channel operation.
//
// The workload in centrifuge's terms (bench/internal/client/centrifuge.go
// speaks its protobuf protocol, /connection/websocket?format=protobuf):
//
//	connect {token}                 the JWT; sub is the user id
//	rpc "create" {name,max_players} -> {"id":"…"}, then subscribe to lobby:ID
//	subscribe lobby:ID              join (refused when full or unknown)
//	unsubscribe lobby:ID            leave
//	publish lobby:ID, 64 bytes      relay: every subscriber gets the
//	                                publication with the publisher's info
//	GET /v1/lobbies?limit=20        lobbies of this node, newest first
//
// A member's subscription emits join and leave messages and receives the
// others' (lobbyd's member_joined and member_left).
//
// centrifuge has no "everyone but the publisher": a publication reaches
// every subscriber of the channel, the publisher included, and the publish
// command has a reply. Both are centrifuge's cost of a relay; the bench
// counts only the deliveries to the others.
//
// With -redis, nodes share centrifuge's Redis broker and presence manager
// (the cluster workload): a lobby's members may be on any node, and
// subscribe checks the lobby's size with PresenceStats, lobbies being of 8
// there (a lobby's name and size live only on the node that made it).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/golang-jwt/jwt/v5"
)

const (
	channelPrefix = "lobby:"
	maxPayload    = 65536
	clusterLobby  = 8 // a lobby's size when lobbies span nodes

	// A chat's history per channel: lobbyd keeps the last 4096 events of a
	// lobby for a resume; a client of centrifuge recovers from this.
	chatHistorySize = 4096
	chatHistoryTTL  = 5 * time.Minute
)

// memberOptions are a lobby member's subscription options: its joins and
// leaves reach the other members, and it hears theirs (centrifuge's
// join/leave messages: lobbyd's member_joined and member_left, which every
// lobby member needs to know who it plays with); in a cluster its presence
// in Redis is what counts the lobby's members.
func memberOptions(clustered bool) centrifuge.SubscribeOptions {
	return centrifuge.SubscribeOptions{EmitPresence: clustered, EmitJoinLeave: true, PushJoinLeave: true}
}

// lobby is a lobby this node made.
type lobby struct {
	id, name, host string
	max            int
	createdAt      int64
	members        map[string]seat // by client id (this node's)
}

// seat is a member of a lobby: who, and since when (unix ms).
type seat struct {
	user     string
	joinedAt int64
}

// registry is this node's lobbies.
type registry struct {
	mu      sync.Mutex
	lobbies map[string]*lobby
	order   []*lobby // creation order; nil entries are deleted lobbies
	next    uint64
	prefix  string // node id: lobby ids are unique across nodes
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	redisAddr := flag.String("redis", "", "Redis host:port: use centrifuge's Redis broker and presence manager (the cluster)")
	redisPrefix := flag.String("redis-prefix", "centrifuge", "key prefix in Redis")
	flag.Parse()
	secret := []byte(os.Getenv("JWT_SECRET"))
	if len(secret) == 0 {
		log.Fatal("JWT_SECRET is required")
	}

	node, err := centrifuge.New(centrifuge.Config{LogLevel: centrifuge.LogLevelError,
		LogHandler: func(e centrifuge.LogEntry) { log.Printf("%s: %v", e.Message, e.Fields) }})
	if err != nil {
		log.Fatal(err)
	}
	if *redisAddr != "" {
		shard, err := centrifuge.NewRedisShard(node, centrifuge.RedisShardConfig{Address: *redisAddr})
		if err != nil {
			log.Fatal(err)
		}
		broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{Prefix: *redisPrefix, Shards: []*centrifuge.RedisShard{shard}})
		if err != nil {
			log.Fatal(err)
		}
		node.SetBroker(broker)
		presence, err := centrifuge.NewRedisPresenceManager(node, centrifuge.RedisPresenceManagerConfig{Prefix: *redisPrefix, Shards: []*centrifuge.RedisShard{shard}})
		if err != nil {
			log.Fatal(err)
		}
		node.SetPresenceManager(presence)
	}
	clustered := *redisAddr != ""
	reg := &registry{lobbies: map[string]*lobby{}, prefix: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}

	node.OnConnecting(func(_ context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		var claims jwt.RegisteredClaims
		_, err := jwt.ParseWithClaims(e.Token, &claims, func(*jwt.Token) (any, error) { return secret, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
		if err != nil || claims.Subject == "" || len(claims.Subject) > 64 {
			return centrifuge.ConnectReply{}, centrifuge.DisconnectInvalidToken
		}
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: claims.Subject}}, nil
	})

	node.OnConnect(func(client *centrifuge.Client) {
		client.OnRPC(func(e centrifuge.RPCEvent, cb centrifuge.RPCCallback) {
			if e.Method != "create" {
				cb(centrifuge.RPCReply{}, centrifuge.ErrorMethodNotFound)
				return
			}
			var req struct {
				Name string `json:"name"`
				Max  int    `json:"max_players"`
			}
			if err := json.Unmarshal(e.Data, &req); err != nil || len(req.Name) < 1 || len(req.Name) > 64 || req.Max < 2 || req.Max > 256 {
				cb(centrifuge.RPCReply{}, centrifuge.ErrorBadRequest)
				return
			}
			if clustered {
				req.Max = clusterLobby
			}
			id := reg.create(req.Name, client.UserID(), req.Max)
			data, _ := json.Marshal(map[string]string{"id": id})
			cb(centrifuge.RPCReply{Data: data}, nil)
		})

		client.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			id, ok := strings.CutPrefix(e.Channel, channelPrefix)
			if !ok || len(id) > 64 {
				cb(centrifuge.SubscribeReply{}, centrifuge.ErrorPermissionDenied)
				return
			}
			for _, ch := range client.Channels() {
				if strings.HasPrefix(ch, channelPrefix) {
					cb(centrifuge.SubscribeReply{}, centrifuge.ErrorAlreadySubscribed)
					return
				}
			}
			if clustered {
				// The lobby spans nodes: its members are centrifuge's
				// presence in Redis. Check and subscribe are not atomic;
				// the bench never fills a lobby past its size.
				st, err := node.PresenceStats(e.Channel)
				if err != nil {
					cb(centrifuge.SubscribeReply{}, centrifuge.ErrorInternal)
					return
				}
				if st.NumClients >= clusterLobby {
					cb(centrifuge.SubscribeReply{}, centrifuge.ErrorLimitExceeded)
					return
				}
				reg.join(id, client.ID(), client.UserID(), true)
				cb(centrifuge.SubscribeReply{Options: memberOptions(true)}, nil)
				return
			}
			if err := reg.join(id, client.ID(), client.UserID(), false); err != nil {
				cb(centrifuge.SubscribeReply{}, err)
				return
			}
			cb(centrifuge.SubscribeReply{Options: memberOptions(false)}, nil)
		})

		client.OnUnsubscribe(func(e centrifuge.UnsubscribeEvent) {
			if id, ok := strings.CutPrefix(e.Channel, channelPrefix); ok {
				reg.leave(id, client.ID())
			}
		})

		client.OnPublish(func(e centrifuge.PublishEvent, cb centrifuge.PublishCallback) {
			if !client.IsSubscribed(e.Channel) {
				cb(centrifuge.PublishReply{}, centrifuge.ErrorPermissionDenied)
				return
			}
			if len(e.Data) > maxPayload {
				cb(centrifuge.PublishReply{}, centrifuge.ErrorBadRequest)
				return
			}
			// The publication carries its publisher (user and client id):
			// the "from" of the relay. A chat (the bench marks it with 'c'
			// as the payload's ninth byte) is kept in the channel's history,
			// centrifuge's way to let a client recover what it missed.
			opts := centrifuge.PublishOptions{ClientInfo: e.ClientInfo}
			if len(e.Data) > 8 && e.Data[8] == 'c' {
				opts.HistorySize, opts.HistoryTTL = chatHistorySize, chatHistoryTTL
			}
			cb(centrifuge.PublishReply{Options: opts}, nil)
		})
	})

	if err := node.Run(); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{ReadBufferSize: 1024, UseWriteBufferPool: true}))
	mux.HandleFunc("GET /v1/lobbies", reg.serveList)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("go_goroutines " + strconv.Itoa(runtime.NumGoroutine()) + "\n"))
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
		<-ch
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = node.Shutdown(ctx)
		_ = srv.Close()
	}()
	log.Printf("centrifuge baseline listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func (r *registry) create(name, host string, max int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	l := &lobby{id: r.prefix + "-" + strconv.FormatUint(r.next, 10), name: name, host: host, max: max,
		createdAt: time.Now().UnixMilli(), members: map[string]seat{}}
	r.lobbies[l.id] = l
	r.order = append(r.order, l)
	return l.id
}

// join adds a member; an unknown lobby is refused unless it may live on
// another node (remote).
func (r *registry) join(id, client, user string, remote bool) *centrifuge.Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lobbies[id]
	switch {
	case l == nil && remote:
		return nil
	case l == nil:
		return centrifuge.ErrorUnknownChannel
	case !remote && len(l.members) >= l.max:
		return centrifuge.ErrorLimitExceeded
	}
	l.members[client] = seat{user: user, joinedAt: time.Now().UnixMilli()}
	return nil
}

func (r *registry) leave(id, client string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lobbies[id]
	if l == nil {
		return
	}
	delete(l.members, client)
	if len(l.members) == 0 {
		delete(r.lobbies, id)
		if len(r.order) > 2*len(r.lobbies)+1024 {
			kept := r.order[:0]
			for _, x := range r.order {
				if r.lobbies[x.id] == x {
					kept = append(kept, x)
				}
			}
			clear(r.order[len(kept):])
			r.order = kept
		}
	}
}

func (r *registry) serveList(w http.ResponseWriter, req *http.Request) {
	limit := 20
	if s := req.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			http.Error(w, `{"error":{"code":"bad_request","msg":"limit must be 1..100"}}`, http.StatusBadRequest)
			return
		}
		limit = n
	}
	// The fields of lobbyd's LobbyView (without code) and Member, so a
	// listing is the same work as lobbyd's: a client reads the same fields
	// from each server. A player's name is its user id (no accounts here).
	type member struct {
		UserID    string         `json:"user_id"`
		Name      string         `json:"name"`
		Ready     bool           `json:"ready"`
		Connected bool           `json:"connected"`
		IsHost    bool           `json:"is_host"`
		Data      map[string]any `json:"data"`
		JoinedAt  int64          `json:"joined_at"`
	}
	type view struct {
		ID          string         `json:"id"`
		Name        string         `json:"name"`
		Host        string         `json:"host"`
		Mode        string         `json:"mode"`
		Region      string         `json:"region"`
		Visibility  string         `json:"visibility"`
		HasPassword bool           `json:"has_password"`
		Locked      bool           `json:"locked"`
		State       string         `json:"state"`
		MaxPlayers  int            `json:"max_players"`
		Attrs       map[string]any `json:"attrs"`
		Data        map[string]any `json:"data"`
		Members     []member       `json:"members"`
		CreatedAt   int64          `json:"created_at"`
	}
	out := struct {
		Lobbies    []view  `json:"lobbies"`
		NextCursor *string `json:"next_cursor"`
	}{Lobbies: make([]view, 0, limit)}
	r.mu.Lock()
	for i := len(r.order) - 1; i >= 0 && len(out.Lobbies) < limit; i-- {
		l := r.order[i]
		if r.lobbies[l.id] != l {
			continue
		}
		v := view{ID: l.id, Name: l.name, Host: l.host, Visibility: "public", State: "open", MaxPlayers: l.max,
			Attrs: map[string]any{}, Data: map[string]any{}, Members: make([]member, 0, len(l.members)), CreatedAt: l.createdAt}
		for _, m := range l.members {
			v.Members = append(v.Members, member{UserID: m.user, Name: m.user, Connected: true, IsHost: m.user == l.host,
				Data: map[string]any{}, JoinedAt: m.joinedAt})
		}
		out.Lobbies = append(out.Lobbies, v)
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
