{
  description = "Herald: an event-driven task and notification platform (TypeScript, Effect)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # `nix develop`: everything `npm start` and `npm test` need. The test harness finds redis-server, nginx,
      # rabbitmq-server tools and ferretdb on PATH (FERRETDB_BIN may point elsewhere).
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_20
            pkgs.deno
            pkgs.redis
            pkgs.rabbitmq-server
            pkgs.nginx
            pkgs.ferretdb
            pkgs.go
            pkgs.docker-compose
            pkgs.openssl
            pkgs.jq
          ];
          shellHook = ''
            export FERRETDB_BIN=${pkgs.ferretdb}/bin/ferretdb
            echo "Herald dev shell: node $(node --version), deno $(deno --version | head -n1 | cut -d' ' -f2)"
            echo "RabbitMQ is not started for you: rabbitmq-server -detached (tests then create their own vhost)."
          '';
        };
      });

      # `nix flake check`: the shell evaluates and its tools run (offline: no npm install here).
      checks = forAll (pkgs: {
        tools = pkgs.runCommand "herald-tools" { nativeBuildInputs = [ pkgs.nodejs_20 pkgs.deno pkgs.nginx pkgs.redis ]; } ''
          node --version && deno --version && nginx -v && redis-server --version
          touch $out
        '';
      });

      formatter = forAll (pkgs: pkgs.nixpkgs-fmt);
    };
}
