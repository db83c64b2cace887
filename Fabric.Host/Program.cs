using Fabric.Host.Cli;

return await FabricCli.RunAsync(args);
